"""The IDL's `pda.seeds` and `relations` are the program's.

Resolved the way Anchor's TypeScript client resolves them (constants,
instruction arguments, other accounts' keys and fields of their data; a
relation is the related account's field of the same name), they give exactly
the accounts of every instruction's valid call (`tests/program/fixtures.py`).
Every account the program owns in a call has seeds, but for the one Anchor
cannot express either (`next_round`: `round + 1`). And each relation between
key accounts is a check the program makes: a call whose account does not match
fails by name. (Relations on `pool` are the other side of `has_one pool`; the
swap tests in `test_generic.py` cover them.)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client_kit.idl import Idl, load_idl
from tests.program.fixtures import FIXTURES, Call, Fixture
from tests.program.world import SOL, PoolWorld, expect_error

#: accounts the program owns whose seeds no IDL can express (Anchor's generator
#: drops arithmetic seeds too); clients derive them
UNRESOLVABLE = {("finalize_round", "next_round")}

#: (instruction, account with relations) → the program's error when that
#: account is another key; `pool` relations are left to test_generic's swaps
RELATION_ERRORS = {
    ("start_training", "organization"): "Unauthorized",
    ("cancel_pool", "organization"): "Unauthorized",
    ("close_pool", "organization"): "AccountMismatch",
    ("reclaim_funding", "organization"): "AccountMismatch",
    ("judge_submission", "aggregator"): "Unauthorized",
    ("finalize_round", "aggregator"): "Unauthorized",
    ("submit_update", "wallet"): "AccountMismatch",
    ("reveal_update", "wallet"): "AccountMismatch",
    ("withdraw_stake", "wallet"): "AccountMismatch",
    ("close_submission", "wallet"): "AccountMismatch",
    ("settle_participant", "wallet"): "AccountMismatch",
}


def _prepared(world: PoolWorld, fixture: Fixture) -> Call:
    world.pool_ids.add(world.pool_id)
    fixture.setup(world)
    return fixture.call(world)


def _payer(world: PoolWorld) -> Keypair:
    payer = Keypair()
    world.chain.svm.airdrop(payer.pubkey(), SOL)
    return payer


def _decode_any(world: PoolWorld, idl: Idl, key: Pubkey) -> dict[str, Any]:
    """The account's data decoded by its discriminator (Anchor's `decodeAny`)."""
    account = world.chain.svm.get_account(key)
    assert account is not None, f"{key} does not exist"
    data = bytes(account.data)
    for entry in idl.raw["accounts"]:
        if data[:8] == bytes(entry["discriminator"]):
            return idl.decode_struct(entry["name"], data)
    raise AssertionError(f"{key} holds no account type of the IDL")


def _seed_bytes(
    world: PoolWorld,
    idl_ix: dict[str, Any],
    seed: dict[str, Any],
    keys: dict[str, Pubkey],
    args: dict[str, Any],
) -> bytes:
    """One seed's bytes, as Anchor's `AccountsResolver.toBuffer` computes them."""
    idl = world.ix.idl
    if seed["kind"] == "const":
        return bytes(seed["value"])
    if seed["kind"] == "arg":
        arg_type = next(a["type"] for a in idl_ix["args"] if a["name"] == seed["path"])
        return idl.encode(arg_type, args[seed["path"]])
    name, *field = seed["path"].split(".")
    if not field:
        return bytes(keys[name])
    (field_name,) = field
    field_type = next(
        f["type"] for f in idl.type_def(seed["account"])["fields"] if f["name"] == field_name
    )
    return idl.encode(field_type, _decode_any(world, idl, keys[name])[field_name])


def _call_view(
    world: PoolWorld, fixture: Fixture, call: Call
) -> tuple[dict[str, Any], dict[str, Pubkey], dict[str, Any]]:
    """The instruction's IDL entry, its accounts by name and its decoded arguments."""
    idl_ix = world.ix.idl.instruction(fixture.name)
    keys = {
        a["name"]: meta.pubkey
        for a, meta in zip(idl_ix["accounts"], call.instruction.accounts, strict=True)
    }
    args, _ = world.ix.idl.decode_fields(idl_ix["args"], bytes(call.instruction.data), 8)
    return idl_ix, keys, args


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.name for f in FIXTURES])
def test_idl_seeds_derive_every_pda_of_a_valid_call(world: PoolWorld, fixture: Fixture) -> None:
    call = _prepared(world, fixture)
    idl_ix, keys, args = _call_view(world, fixture, call)
    for account in idl_ix["accounts"]:
        if "pda" not in account:
            continue
        seeds = [_seed_bytes(world, idl_ix, s, keys, args) for s in account["pda"]["seeds"]]
        derived, _ = Pubkey.find_program_address(seeds, world.ix.program_id)
        assert derived == keys[account["name"]], f"{fixture.name}.{account['name']}"


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.name for f in FIXTURES])
def test_idl_relations_hold_in_a_valid_call(world: PoolWorld, fixture: Fixture) -> None:
    call = _prepared(world, fixture)
    idl_ix, keys, _ = _call_view(world, fixture, call)
    for account in idl_ix["accounts"]:
        for related in account.get("relations", []):
            stored = _decode_any(world, world.ix.idl, keys[related])
            assert stored[account["name"]] == keys[account["name"]], (
                f"{fixture.name}: {related}.{account['name']}"
            )


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.name for f in FIXTURES])
def test_every_program_account_of_a_call_has_seeds(world: PoolWorld, fixture: Fixture) -> None:
    call = _prepared(world, fixture)
    idl_ix, keys, _ = _call_view(world, fixture, call)

    def owned() -> set[str]:
        return {
            name
            for name, key in keys.items()
            if (acc := world.chain.svm.get_account(key)) is not None
            and acc.owner == world.ix.program_id
        }

    before = owned()
    world.send([call.instruction], _payer(world), *call.signers)
    ours = before | owned()
    with_seeds = {a["name"] for a in idl_ix["accounts"] if "pda" in a}
    missing = {(fixture.name, name) for name in ours - with_seeds}
    assert missing <= UNRESOLVABLE


def _relation_cases() -> Iterator[object]:
    idl = load_idl()
    seen = set()
    for fixture in FIXTURES:
        for account in idl.instruction(fixture.name)["accounts"]:
            if account.get("relations") and "pda" not in account:
                seen.add((fixture.name, account["name"]))
                yield pytest.param(fixture, account, id=f"{fixture.name}-{account['name']}")
    assert seen == set(RELATION_ERRORS), "RELATION_ERRORS must list every key relation"


@pytest.mark.parametrize(("fixture", "account"), list(_relation_cases()))
def test_each_key_relation_is_checked_by_the_program(
    world: PoolWorld, fixture: Fixture, account: dict[str, Any]
) -> None:
    call = _prepared(world, fixture)
    idl_ix, keys, _ = _call_view(world, fixture, call)
    index = [a["name"] for a in idl_ix["accounts"]].index(account["name"])
    stranger = Keypair()
    world.chain.svm.airdrop(stranger.pubkey(), SOL)
    meta = call.instruction.accounts[index]
    metas = list(call.instruction.accounts)
    metas[index] = AccountMeta(stranger.pubkey(), meta.is_signer, meta.is_writable)
    swapped = Instruction(call.instruction.program_id, bytes(call.instruction.data), metas)
    signers = list(call.signers)
    if account.get("signer"):
        signers = [k for k in signers if k.pubkey() != keys[account["name"]]] + [stranger]
    payer = _payer(world)
    error = RELATION_ERRORS[(fixture.name, account["name"])]
    expect_error(world, error, lambda: world.send([swapped], payer, *signers), stranger.pubkey())
