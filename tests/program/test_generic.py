"""Generic account checks, run against every instruction's fixture.

For each instruction: the valid call succeeds (so every mutation below is the
only thing wrong); dropping each signer the IDL requires fails with
MissingSigner; making each account the IDL marks writable read-only fails
with AccountNotWritable; swapping each PDA for the same account of another
pool fails with the fixture's named relation error; a byte-perfect copy of
each program account owned by another program fails with InvalidOwner; each
data account with a forged discriminator (same length) fails with
InvalidDiscriminator. Every failure leaves every account unchanged.

A separate fee payer sends every transaction, so a signer or writable flag
the program sees is exactly the one under test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from solders.account import Account
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from tests.program.fixtures import FIXTURES, Call, Fixture
from tests.program.world import SOL, PoolWorld, expect_error

OTHER_POOL = 2


def _cases(kind: str) -> Iterator[object]:
    """(fixture, account name) pairs for the accounts of `kind` in the IDL."""
    from client_kit.idl import load_idl

    idl = load_idl()
    for fixture in FIXTURES:
        for account in idl.instruction(fixture.name)["accounts"]:
            if account.get(kind):
                yield pytest.param(fixture, account["name"], id=f"{fixture.name}-{account['name']}")


def _index(world: PoolWorld, fixture: Fixture, name: str) -> int:
    names = [a["name"] for a in world.ix.idl.instruction(fixture.name)["accounts"]]
    return names.index(name)


def _prepared(world: PoolWorld, fixture: Fixture) -> tuple[Call, Call]:
    """Runs the fixture's setup on another pool, then on the world's pool; returns
    the valid call for the world's pool and the same call for the other pool."""
    world.pool_ids |= {1, OTHER_POOL}
    world.pool_id = OTHER_POOL
    fixture.setup(world)
    other = fixture.call(world)
    world.pool_id = 1
    fixture.setup(world)
    return fixture.call(world), other


def _payer(world: PoolWorld) -> Keypair:
    payer = Keypair()
    world.chain.svm.airdrop(payer.pubkey(), SOL)
    return payer


def _send(world: PoolWorld, payer: Keypair, instruction: Instruction, signers: list[Keypair]):
    return world.send([instruction], payer, *signers)


def _replace(ix: Instruction, index: int, meta: AccountMeta) -> Instruction:
    metas = list(ix.accounts)
    metas[index] = meta
    return Instruction(ix.program_id, bytes(ix.data), metas)


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.name for f in FIXTURES])
def test_valid_call_succeeds_and_emits_its_event(world: PoolWorld, fixture: Fixture) -> None:
    call, _ = _prepared(world, fixture)
    result = _send(world, _payer(world), call.instruction, call.signers)
    assert [e.name for e in result.events] == [fixture.event]


@pytest.mark.parametrize(("fixture", "account"), list(_cases("signer")))
def test_each_required_signer_is_checked(world: PoolWorld, fixture: Fixture, account: str) -> None:
    call, _ = _prepared(world, fixture)
    index = _index(world, fixture, account)
    key = call.instruction.accounts[index].pubkey
    unsigned = Instruction(
        call.instruction.program_id,
        bytes(call.instruction.data),
        [
            AccountMeta(m.pubkey, False if m.pubkey == key else m.is_signer, m.is_writable)
            for m in call.instruction.accounts
        ],
    )
    signers = [k for k in call.signers if k.pubkey() != key]
    payer = _payer(world)
    expect_error(world, "MissingSigner", lambda: _send(world, payer, unsigned, signers), key)


@pytest.mark.parametrize(("fixture", "account"), list(_cases("writable")))
def test_each_writable_account_is_checked(world: PoolWorld, fixture: Fixture, account: str) -> None:
    call, _ = _prepared(world, fixture)
    index = _index(world, fixture, account)
    key = call.instruction.accounts[index].pubkey
    readonly = Instruction(
        call.instruction.program_id,
        bytes(call.instruction.data),
        [
            AccountMeta(m.pubkey, m.is_signer, False if m.pubkey == key else m.is_writable)
            for m in call.instruction.accounts
        ],
    )
    payer = _payer(world)
    expect_error(
        world,
        "AccountNotWritable",
        lambda: _send(world, payer, readonly, call.signers),
        key,
    )


def _pda_cases() -> Iterator[object]:
    for fixture in FIXTURES:
        for name, error in fixture.pda_errors.items():
            yield pytest.param(fixture, name, error, id=f"{fixture.name}-{name}")


@pytest.mark.parametrize(("fixture", "account", "error"), list(_pda_cases()))
def test_each_pda_swapped_for_another_pools_is_refused(
    world: PoolWorld, fixture: Fixture, account: str, error: str | None
) -> None:
    call, other = _prepared(world, fixture)
    index = _index(world, fixture, account)
    mine = call.instruction.accounts[index]
    theirs = other.instruction.accounts[index].pubkey
    assert theirs != mine.pubkey
    swapped = _replace(
        call.instruction, index, AccountMeta(theirs, mine.is_signer, mine.is_writable)
    )
    payer = _payer(world)
    if error is None:
        _send(world, payer, swapped, call.signers)  # a valid call on the other pool
        return
    expect_error(world, error, lambda: _send(world, payer, swapped, call.signers), theirs)


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.name for f in FIXTURES])
def test_every_pool_dependent_account_has_a_pda_case(world: PoolWorld, fixture: Fixture) -> None:
    # The fixture lists a swap for exactly the accounts that differ between pools.
    call, other = _prepared(world, fixture)
    differ = {
        a["name"]
        for a, mine, theirs in zip(
            world.ix.idl.instruction(fixture.name)["accounts"],
            call.instruction.accounts,
            other.instruction.accounts,
            strict=True,
        )
        if mine.pubkey != theirs.pubkey
    }
    assert differ == set(fixture.pda_errors)


def _owned_cases() -> Iterator[object]:
    """(fixture, account) for accounts that exist and belong to the program when
    the valid call is made (known from the IDL's account roles)."""
    from client_kit.idl import load_idl

    owned = {"pool", "participant", "round", "submission"}
    for fixture in FIXTURES:
        for account in load_idl().instruction(fixture.name)["accounts"]:
            name = account["name"]
            creates = (fixture.name, name) in {
                ("create_pool", "pool"),
                ("join_pool", "participant"),
                ("start_training", "round"),
                ("submit_update", "submission"),
            }
            if name in owned and not creates:
                yield pytest.param(fixture, name, id=f"{fixture.name}-{name}")


@pytest.mark.parametrize(("fixture", "account"), list(_owned_cases()))
def test_each_program_account_owned_by_another_program_is_refused(
    world: PoolWorld, fixture: Fixture, account: str
) -> None:
    call, _ = _prepared(world, fixture)
    index = _index(world, fixture, account)
    real_key = call.instruction.accounts[index].pubkey
    real = world.chain.svm.get_account(real_key)
    assert real is not None and real.owner == world.ix.program_id
    fake = Pubkey.new_unique()
    world.chain.svm.set_account(
        fake, Account(real.lamports, bytes(real.data), Pubkey.new_unique(), False, 0)
    )
    meta = call.instruction.accounts[index]
    forged = _replace(call.instruction, index, AccountMeta(fake, meta.is_signer, meta.is_writable))
    payer = _payer(world)
    error = fixture.owner_errors.get(account, "InvalidOwner")
    expect_error(world, error, lambda: _send(world, payer, forged, call.signers), fake)


@pytest.mark.parametrize(
    ("fixture", "account"),
    list(_owned_cases()),
)
def test_each_data_account_with_a_forged_discriminator_is_refused(
    world: PoolWorld, fixture: Fixture, account: str
) -> None:
    call, _ = _prepared(world, fixture)
    index = _index(world, fixture, account)
    key = call.instruction.accounts[index].pubkey
    real = world.chain.svm.get_account(key)
    forged = b"\x00" * 8 + bytes(real.data)[8:]  # right length, wrong type tag
    world.chain.svm.set_account(key, Account(real.lamports, forged, real.owner, False, 0))
    payer = _payer(world)
    expect_error(
        world,
        "InvalidDiscriminator",
        lambda: _send(world, payer, call.instruction, call.signers),
    )
