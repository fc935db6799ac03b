"""Crash-class fuzzing of the compiled program in LiteSVM.

For every instruction in the IDL, valid calls are built against a *zoo*: one
chain holding pools in each life stage (open, committing, revealing, judged,
finished, cancelled, and ones whose expiry or claim window has passed), built
with `PoolWorld`. Each case then sends either random bytes
with random accounts, or a valid call with one to three mutations (data
truncated, extended, bit-flipped or given another instruction's
discriminator; accounts swapped, dropped, duplicated, substituted by accounts
of other pools, types and owners, or with their signer/writable flags
flipped).

The property checked is the *kind* of every outcome, not its value: a failure
must be one of the program's named errors (the IDL's custom codes from 6000)
or a refusal by the runtime or the system program that the transaction
itself asked for (`RUNTIME_REFUSALS`). UnsupportedInstruction, access
violations, panics, compute exhaustion and every other
ProgramFailedToComplete mean the binary ran into something it should never
reach; anything not listed is a failure too, until someone classifies it.

Everything is seeded (keys, salts, mutations), so a run is reproducible: set
`FEDSTAKE_FUZZ_SEED` and `FEDSTAKE_FUZZ_CASES` (per instruction) to explore
further. Instructions without a hand-made valid call in `valid_calls` (e.g.
ones added to the IDL later) are driven by `generic_call`, which fills the
IDL's accounts by name and its arguments by type.
"""

from __future__ import annotations

import os
import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from solders.account import Account
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM_ID
from solders.sysvar import CLOCK, RENT

from client_kit.enums import Verdict
from client_kit.errors import FedstakeProgramError, TransactionFailed
from client_kit.gateway.embedded import EmbeddedGateway
from client_kit.idl import IdlCodecError, cid_to_field, load_idl
from client_kit.instructions import FedstakeInstructions, build
from client_kit.keys import payout_commitment
from tests.program.world import SOL, START, PoolWorld, Trainer

SEED = int(os.environ.get("FEDSTAKE_FUZZ_SEED", "7"))
CASES_PER_INSTRUCTION = int(os.environ.get("FEDSTAKE_FUZZ_CASES", "250"))
# A fresh zoo every so many cases, so successful mutated calls (a mutated
# `fund_pool` still funds) cannot drift the pools far from their stages.
RESET_EVERY = 30
RANDOM_SHARE = 0.15  # cases that are random bytes with random accounts

# Refusals that the transaction asked for, by the runtime or the system
# program (reached through the program's CPIs): not program crashes.
RUNTIME_REFUSALS = frozenset(
    {
        "MissingAccount",  # an account the program needs is not in the transaction
        "NotEnoughAccountKeys",  # e.g. a CPI whose accounts the transaction lacks
        "MissingRequiredSignature",  # a CPI needs a signature the transaction lacks
        "PrivilegeEscalation",  # a CPI asks for signer/writable the caller did not grant
        "AccountNotFound",  # the fee payer does not exist
        "system: AccountAlreadyInUse",  # create_account on a funded address
        "system: ResultWithNegativeLamports",  # transfer from a wallet without the lamports
    }
)

# Solana's SystemError, in declaration order (custom codes of the system program).
_SYSTEM_ERRORS = (
    "AccountAlreadyInUse",
    "ResultWithNegativeLamports",
    "InvalidProgramId",
    "InvalidAccountDataLength",
    "MaxSeedLengthExceeded",
    "AddressWithSeedMismatch",
    "NonceNoRecentBlockhashes",
    "NonceBlockhashNotExpired",
    "NonceUnexpectedBlockhashValue",
)


class _Keys:
    """Seeded keypairs, remembered so any of them can sign later."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.ring: dict[Pubkey, Keypair] = {}

    def __call__(self) -> Keypair:
        keypair = Keypair.from_seed(self.rng.randbytes(32))
        self.ring[keypair.pubkey()] = keypair
        return keypair


@dataclass
class Zoo:
    """One chain with a pool in every life stage, and every key the fuzzer holds."""

    chain: EmbeddedGateway
    ix: FedstakeInstructions
    keys: _Keys
    payer: Keypair
    stranger: Keypair
    worlds: dict[str, PoolWorld]
    spare: Trainer
    next_pool_id: int = 100
    fakes: list[Pubkey] = field(default_factory=list)

    def candidates(self) -> list[Pubkey]:
        """Accounts a mutation may put anywhere: every type, owner and pool."""
        keys = [*self.keys.ring, *self.fakes, SYSTEM_PROGRAM_ID, self.ix.program_id, CLOCK, RENT]
        for world in self.worlds.values():
            keys += [world.pool, world.ix.round(world.pool, 1)]
            keys += [world.ix.round(world.pool, 2)]
            for trainer in world.trainers:
                keys.append(world.ix.participant(world.pool, trainer.wallet.pubkey()))
                keys.append(world.ix.submission(world.pool, 1, trainer.wallet.pubkey()))
        return keys


def build_zoo(rng: random.Random) -> Zoo:
    """Pools `open`, `training` (committing), `revealing`, `judged`, `finished`,
    `cancelled`, `empty` (cancelled with nobody left), `silent` (a round past
    its expiry), `stale` (Open past join deadline + grace) and `settling`
    (ended, claim window over), plus fake accounts of the wrong owner/data."""
    keys = _Keys(rng)
    chain = EmbeddedGateway(start_time=START)
    organization, aggregator, payer, stranger = keys(), keys(), keys(), keys()
    for key in (organization, aggregator, payer, stranger):
        chain.svm.airdrop(key.pubkey(), 1_000 * SOL)
    ix = FedstakeInstructions()

    def trainer(world: PoolWorld | None) -> Trainer:
        new = Trainer(keys(), keys(), rng.randbytes(32))
        chain.svm.airdrop(new.wallet.pubkey(), 5 * SOL)
        if world is not None:
            world.trainers.append(new)
        return new

    def pool(pool_id: int, joined: int, **params: object) -> PoolWorld:
        world = PoolWorld(chain, ix, organization, aggregator, pool_id=pool_id)
        world.create(**params)
        world.fund()
        for _ in range(joined):
            world.join(trainer(world))
        return world

    # Pools whose windows pass in a few seconds (the others' are minutes long).
    short = {"round_duration": 1, "reveal_duration": 1, "expiry_grace": 1, "claim_window": 1}
    silent = pool(7, 1, **short)
    silent.start()
    stale = pool(8, 1, join_deadline=START + 1, **short)
    settling = pool(9, 1, **short)
    settling.cancel()

    opened = pool(1, 2)
    training = pool(2, 3)
    training.start()
    a, b, _ = training.trainers
    training.submit(a)
    training.submit(b)
    revealing = pool(10, 3)
    revealing.start()
    for t in revealing.trainers:  # everyone committed: the reveal phase is open
        revealing.submit(t)
    first, second, _ = revealing.trainers
    revealing.reveal(first)
    revealing.reveal(second)
    revealing.judge(first, Verdict.ACCEPTED, 5_000)
    judged = pool(3, 1)
    judged.start()
    judged.commit_and_reveal(judged.trainers)
    judged.judge(judged.trainers[0], Verdict.ACCEPTED, 10_000)
    finished = pool(4, 2, max_rounds=1)
    finished.start()
    finished.commit_and_reveal(finished.trainers)
    finished.judge(finished.trainers[0], Verdict.ACCEPTED, 6_000)
    finished.judge(finished.trainers[1], Verdict.EXCLUDED, 0)
    finished.finalize(1)
    cancelled = pool(5, 1)
    cancelled.cancel()
    empty = pool(6, 0)
    empty.cancel()
    chain.set_time(START + 5)  # the short windows are over

    zoo = Zoo(
        chain,
        ix,
        keys,
        payer,
        stranger,
        {
            "open": opened,
            "training": training,
            "revealing": revealing,
            "judged": judged,
            "finished": finished,
            "cancelled": cancelled,
            "empty": empty,
            "silent": silent,
            "stale": stale,
            "settling": settling,
        },
        trainer(None),
    )
    _add_fakes(zoo, rng)
    return zoo


def _add_fakes(zoo: Zoo, rng: random.Random) -> None:
    """Accounts of the wrong kind: a copy of a real pool at an address that is
    not its PDA, the same bytes owned by the system program, random bytes owned
    by the program, and an empty program-owned account."""
    svm = zoo.chain.svm
    program = zoo.ix.program_id
    pool_bytes = bytes(svm.get_account(zoo.worlds["training"].pool).data)
    participant = zoo.worlds["training"].trainers[0].wallet.pubkey()
    participant_bytes = bytes(
        svm.get_account(zoo.ix.participant(zoo.worlds["training"].pool, participant)).data
    )
    for owner, data in (
        (program, pool_bytes),
        (SYSTEM_PROGRAM_ID, pool_bytes),
        (program, participant_bytes),
        (program, rng.randbytes(len(pool_bytes))),
        (program, b""),
        (program, rng.randbytes(7)),
    ):
        key = Pubkey.from_bytes(rng.randbytes(32))
        svm.set_account(key, Account(10 * SOL, data, owner, False, 0))
        zoo.fakes.append(key)
    zoo.fakes.append(Pubkey.from_bytes(rng.randbytes(32)))  # does not exist


def valid_calls(zoo: Zoo) -> dict[str, Callable[[], Instruction]]:
    """A call of each known instruction that succeeds in the zoo's current state."""
    ix = zoo.ix
    w = zoo.worlds
    org = w["open"].organization.pubkey()
    agg = w["open"].aggregator.pubkey()
    training, revealing, finished = w["training"], w["revealing"], w["finished"]
    spare = zoo.spare

    def create() -> Instruction:
        zoo.next_pool_id += 1
        return ix.create_pool(org, w["open"].params(pool_id=zoo.next_pool_id))

    def submit() -> Instruction:
        trainer = training.trainers[2]
        return ix.submit_update(
            trainer.wallet.pubkey(),
            training.pool,
            1,
            update_commitment=training.commitment(trainer),
            num_samples=100,
            base_model_hash=training.pool_state().global_model_hash,
        )

    def claim() -> Instruction:
        winner = finished.trainers[0]
        return ix.claim_reward(
            finished.pool, winner.wallet.pubkey(), winner.payout.pubkey(), winner.salt
        )

    return {
        "create_pool": create,
        "fund_pool": lambda: ix.fund_pool(org, training.pool, SOL),
        "join_pool": lambda: ix.join_pool(
            spare.wallet.pubkey(),
            w["open"].pool,
            SOL // 2,
            payout_commitment(spare.payout.pubkey(), spare.salt),
        ),
        "start_training": lambda: ix.start_training(org, w["open"].pool),
        "submit_update": submit,
        "judge_submission": lambda: ix.judge_submission(
            agg,
            revealing.pool,
            1,
            revealing.trainers[1].wallet.pubkey(),
            verdict=Verdict.ACCEPTED,
            score=1_000,
            reason=0,
        ),
        "finalize_round": lambda: ix.finalize_round(
            agg, w["judged"].pool, 1, b"\x42" * 32, "bafkreiglobal1", "bafkreirecord1"
        ),
        "claim_reward": claim,
        "withdraw_stake": lambda: ix.withdraw_stake(
            w["cancelled"].trainers[0].wallet.pubkey(), w["cancelled"].pool
        ),
        "cancel_pool": lambda: ix.cancel_pool(org, w["open"].pool),
        "close_submission": lambda: ix.close_submission(
            finished.trainers[1].wallet.pubkey(), finished.pool, 1
        ),
        "close_pool": lambda: ix.close_pool(org, w["empty"].pool),
        "reveal_update": lambda: ix.reveal_update(
            revealing.trainers[2].wallet.pubkey(),
            revealing.pool,
            1,
            revealing.update_hash(revealing.trainers[2]),
            "bafkreiupdate",
        ),
        "expire_round": lambda: ix.expire_round(w["silent"].pool, 1),
        "expire_pool": lambda: ix.expire_pool(w["stale"].pool),
        "reclaim_funding": lambda: ix.reclaim_funding(finished.pool, org),
        "settle_participant": lambda: ix.settle_participant(
            w["settling"].pool, w["settling"].trainers[0].wallet.pubkey()
        ),
    }


def generic_call(zoo: Zoo, name: str, rng: random.Random) -> Instruction:
    """A call of IDL instruction `name` with accounts matched by name to one
    pool's (random otherwise) and arguments drawn by type."""
    idl = zoo.ix.idl
    spec = idl.instruction(name)
    # (a generic call may have closed a pool: pick among the ones still open)
    world = rng.choice([w for w in zoo.worlds.values() if w.raw(w.pool) is not None])
    trainer = world.trainers[0] if world.trainers else zoo.spare
    state = world.pool_state()
    wallet = trainer.wallet.pubkey()
    by_name = {
        "organization": world.organization.pubkey(),
        "funder": world.organization.pubkey(),
        "aggregator": world.aggregator.pubkey(),
        "pool": world.pool,
        "wallet": wallet,
        "payout_wallet": trainer.payout.pubkey(),
        "participant": world.ix.participant(world.pool, wallet),
        "round": world.ix.round(world.pool, state.round),
        "next_round": world.ix.round(world.pool, state.round + 1),
        "submission": world.ix.submission(world.pool, state.round, wallet),
    }
    candidates = zoo.candidates()
    accounts: dict[str, Pubkey] = {}
    for account in spec["accounts"]:
        key = by_name.get(account["name"]) or rng.choice(candidates)
        if account.get("address"):
            key = Pubkey.from_string(account["address"])
        if account.get("signer") and key not in zoo.keys.ring:
            key = rng.choice(list(zoo.keys.ring))
        accounts[account["name"]] = key
    args = {arg["name"]: _random_value(arg["type"], zoo, rng) for arg in spec["args"]}
    return build(name, accounts, args, program_id=zoo.ix.program_id, idl=idl)


def _random_value(idl_type: Any, zoo: Zoo, rng: random.Random) -> Any:
    """A value of `idl_type`, biased to edges (0, 1, small, max) and to the zoo's keys."""
    bits = {"u8": 8, "u16": 16, "u32": 32, "u64": 64, "i32": 32, "i64": 64}
    if isinstance(idl_type, str) and idl_type in bits:
        width = bits[idl_type]
        signed = idl_type.startswith("i")
        top = (1 << (width - 1)) - 1 if signed else (1 << width) - 1
        low = -(1 << (width - 1)) if signed else 0
        return rng.choice([0, 1, 2, rng.randint(0, min(top, 10_000)), top, rng.randint(low, top)])
    if idl_type == "bool":
        return rng.random() < 0.5
    if idl_type == "pubkey":
        return rng.choice(zoo.candidates())
    if isinstance(idl_type, dict) and "array" in idl_type:
        length = idl_type["array"][1]
        return rng.choice([bytes(length), rng.randbytes(length), cid_to_field("bafkreix")[:length]])
    if isinstance(idl_type, dict) and "defined" in idl_type:
        type_def = zoo.ix.idl.type_def(idl_type["defined"]["name"])
        if type_def["kind"] == "enum":
            return rng.randrange(len(type_def["variants"]))
        return {f["name"]: _random_value(f["type"], zoo, rng) for f in type_def["fields"]}
    raise ValueError(f"no generator for IDL type {idl_type!r}")


# --- mutations ------------------------------------------------------------
@dataclass
class Call:
    data: bytes
    metas: list[AccountMeta]


Mutation = Callable[[Call, Zoo, random.Random], Call | None]


def _truncate(call: Call, _zoo: Zoo, rng: random.Random) -> Call | None:
    return Call(call.data[: rng.randrange(len(call.data))], call.metas) if call.data else None


def _extend(call: Call, _zoo: Zoo, rng: random.Random) -> Call:
    return Call(call.data + rng.randbytes(rng.randint(1, 64)), call.metas)


def _flip_bytes(call: Call, _zoo: Zoo, rng: random.Random) -> Call | None:
    if len(call.data) <= 8:
        return None
    data = bytearray(call.data)
    for _ in range(rng.randint(1, 4)):
        data[rng.randrange(8, len(data))] ^= rng.randint(1, 255)  # arguments, not the tag
    return Call(bytes(data), call.metas)


def _flip_any_byte(call: Call, _zoo: Zoo, rng: random.Random) -> Call | None:
    if not call.data:
        return None
    data = bytearray(call.data)
    data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return Call(bytes(data), call.metas)


def _edge_argument(call: Call, zoo: Zoo, rng: random.Random) -> Call | None:
    """One argument replaced by a value drawn by its IDL type (0, 1, max, a zoo key...)."""
    idl = zoo.ix.idl
    spec = next(
        (ix for ix in idl.raw["instructions"] if bytes(ix["discriminator"]) == call.data[:8]),
        None,
    )
    if spec is None or not spec["args"]:
        return None
    try:
        values, end = idl.decode_fields(spec["args"], call.data, 8)
    except IdlCodecError:
        return None
    arg = rng.choice(spec["args"])
    values[arg["name"]] = _random_value(arg["type"], zoo, rng)
    data = call.data[:8] + idl.encode_fields(spec["args"], values) + call.data[end:]
    return Call(data, call.metas)


def _other_tag(call: Call, zoo: Zoo, rng: random.Random) -> Call:
    tag = bytes(rng.choice(zoo.ix.idl.raw["instructions"])["discriminator"])
    return Call(tag + call.data[8:], call.metas)


def _swap(call: Call, _zoo: Zoo, rng: random.Random) -> Call | None:
    if len(call.metas) < 2:
        return None
    metas = list(call.metas)
    i, j = rng.sample(range(len(metas)), 2)
    metas[i], metas[j] = metas[j], metas[i]
    return Call(call.data, metas)


def _drop(call: Call, _zoo: Zoo, rng: random.Random) -> Call | None:
    if not call.metas:
        return None
    metas = list(call.metas)
    if rng.random() < 0.5:
        del metas[rng.randrange(len(metas))]
    else:
        metas = metas[: rng.randrange(len(metas))]
    return Call(call.data, metas)


def _duplicate(call: Call, zoo: Zoo, rng: random.Random) -> Call | None:
    if len(call.metas) < 2:
        return None
    metas = list(call.metas)
    i, j = rng.sample(range(len(metas)), 2)
    metas[i] = _meta(zoo, metas[j].pubkey, metas[i].is_signer, metas[i].is_writable)
    return Call(call.data, metas)


def _replace_one(
    call: Call,
    rng: random.Random,
    change: Callable[[AccountMeta], AccountMeta],
    options: list[int] | None = None,
) -> Call | None:
    """`call` with one account meta (any, or one of `options`) replaced by `change(meta)`."""
    choices = list(range(len(call.metas))) if options is None else options
    if not choices:
        return None
    metas = list(call.metas)
    i = rng.choice(choices)
    metas[i] = change(metas[i])
    return Call(call.data, metas)


def _flip_signer(call: Call, zoo: Zoo, rng: random.Random) -> Call | None:
    # Only keys we hold can be made signers: an unsigned "signer" is no transaction.
    options = [i for i, m in enumerate(call.metas) if m.is_signer or m.pubkey in zoo.keys.ring]
    return _replace_one(
        call, rng, lambda m: AccountMeta(m.pubkey, not m.is_signer, m.is_writable), options
    )


def _flip_writable(call: Call, _zoo: Zoo, rng: random.Random) -> Call | None:
    return _replace_one(call, rng, lambda m: AccountMeta(m.pubkey, m.is_signer, not m.is_writable))


def _substitute(call: Call, zoo: Zoo, rng: random.Random) -> Call | None:
    return _replace_one(
        call, rng, lambda m: _meta(zoo, rng.choice(zoo.candidates()), m.is_signer, m.is_writable)
    )


def _append(call: Call, zoo: Zoo, rng: random.Random) -> Call:
    extra = [AccountMeta(k, False, rng.random() < 0.5) for k in rng.sample(zoo.candidates(), 2)]
    return Call(call.data, [*call.metas, *extra])


def _meta(zoo: Zoo, key: Pubkey, signer: bool, writable: bool) -> AccountMeta:
    """An account meta that stays signable: only keys the zoo holds can sign."""
    return AccountMeta(key, signer and key in zoo.keys.ring, writable)


MUTATIONS: dict[str, Mutation] = {
    "truncate": _truncate,
    "extend": _extend,
    "flip_arg_bytes": _flip_bytes,
    "flip_bit": _flip_any_byte,
    "edge_argument": _edge_argument,
    "other_tag": _other_tag,
    "swap_accounts": _swap,
    "drop_accounts": _drop,
    "duplicate_account": _duplicate,
    "flip_signer": _flip_signer,
    "flip_writable": _flip_writable,
    "substitute_account": _substitute,
    "append_accounts": _append,
}


def random_call(zoo: Zoo, rng: random.Random, tag: bytes) -> Call:
    """Random bytes (half of them behind a real tag) and random accounts."""
    data = rng.randbytes(rng.randint(0, 200))
    if rng.random() < 0.5:
        data = tag + data
    metas = []
    for key in rng.sample(zoo.candidates(), rng.randint(0, 8)):
        signer = key in zoo.keys.ring and rng.random() < 0.5
        metas.append(AccountMeta(key, signer, rng.random() < 0.5))
    return Call(data, metas)


# --- running and judging ---------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    """One case: which instruction, how it was made, and how it ended."""

    instruction: str
    recipe: str
    kind: str
    logs: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.kind == "ok" or self.kind.startswith("named ") or self.kind in RUNTIME_REFUSALS


def send(zoo: Zoo, call: Call) -> tuple[str, tuple[str, ...]]:
    """Sends `call` paid by the zoo's payer, signed by every key it marks signer;
    returns the outcome kind and the logs."""
    signers = [zoo.payer]
    for meta in call.metas:
        keypair = zoo.keys.ring.get(meta.pubkey)
        if meta.is_signer and keypair is not None and keypair not in signers:
            signers.append(keypair)
    instruction = Instruction(zoo.ix.program_id, call.data, call.metas)
    try:
        result = zoo.chain.send_sync([instruction], signers)
    except TransactionFailed as failure:
        return classify(failure), tuple(failure.logs)
    return "ok", tuple(result.logs)


def classify(failure: TransactionFailed) -> str:
    """The outcome kind of a failed transaction, from the gateway's error.

    `named <code> <Name>` for the program's own errors; the system program's
    errors (reached by CPI) as `system: <SystemError>`; other failures by
    their TransactionError/InstructionError variant, with the program's own
    log line (`Program <id> failed: ...`) for ProgramFailedToComplete.
    """
    if isinstance(failure, FedstakeProgramError):
        return f"named {failure.code} {failure.name}"
    message = str(failure)
    failed = [line for line in failure.logs if " failed: " in line]
    custom = re.search(r"custom program error (\d+)", message)
    for line in failed:  # the system program's own failure line names its code
        system = re.match(
            rf"Program {SYSTEM_PROGRAM_ID} failed: custom program error: 0x([0-9a-fA-F]+)", line
        )
        if system:
            code = int(system.group(1), 16)
            name = _SYSTEM_ERRORS[code] if code < len(_SYSTEM_ERRORS) else str(code)
            return f"system: {name}"
    if custom:
        return f"custom {custom.group(1)} (not in the IDL)"
    if "ProgramFailedToComplete" in message or "ComputationalBudgetExceeded" in message:
        reason = failed[-1].split(" failed: ", 1)[1] if failed else message
        return f"crash: {reason}"
    variant = re.findall(r"([A-Za-z]+)\)*$", message)
    return variant[0] if variant else message


def run(seed: int = SEED, cases: int = CASES_PER_INSTRUCTION) -> list[Outcome]:
    """`cases` seeded cases for each IDL instruction; returns every outcome.

    The first case after each fresh zoo is the unmutated valid call, so a
    stale valid call (one that no longer succeeds) shows up as a failure kind
    on a `valid` recipe.
    """
    rng = random.Random(seed)
    outcomes: list[Outcome] = []
    for spec in load_idl().raw["instructions"]:
        name = spec["name"]
        tag = bytes(spec["discriminator"])
        zoo = build_zoo(rng)
        for case in range(cases):
            if case and case % RESET_EVERY == 0:
                zoo = build_zoo(rng)
            valid = valid_calls(zoo).get(name)
            base = valid() if valid else generic_call(zoo, name, rng)
            origin = "valid" if valid else "generic"
            call = Call(bytes(base.data), list(base.accounts))
            if case % RESET_EVERY == 0:
                recipe = origin
            elif rng.random() < RANDOM_SHARE:
                recipe, call = "random", random_call(zoo, rng, tag)
            else:
                steps = []
                for _ in range(rng.choice((1, 1, 2, 3))):
                    step = rng.choice(list(MUTATIONS))
                    mutated = MUTATIONS[step](call, zoo, rng)
                    if mutated is not None:
                        call = mutated
                        steps.append(step)
                recipe = f"{origin}+{'+'.join(steps) or 'none'}"
            kind, logs = send(zoo, call)
            outcomes.append(Outcome(name, recipe, kind, logs))
    return outcomes


def histogram(outcomes: list[Outcome], seed: int = SEED) -> str:
    """Markdown: outcome kinds (count, share), and cases per instruction."""
    kinds = Counter(o.kind for o in outcomes)
    per_ix = Counter(o.instruction for o in outcomes)
    lines = [
        f"Program fuzzing: {len(outcomes)} cases ({max(per_ix.values())} per instruction), "
        f"seed {seed}; written by tests/program/test_fuzz.py",
        "",
        "| outcome | cases | share |",
        "| --- | ---: | ---: |",
    ]
    for kind, count in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"| {kind} | {count} | {100 * count / len(outcomes):.1f}% |")
    ok = Counter(o.instruction for o in outcomes if o.kind == "ok")
    lines += ["", "| instruction | cases | succeeded |", "| --- | ---: | ---: |"]
    for name, count in per_ix.items():
        lines.append(f"| {name} | {count} | {ok[name]} |")
    return "\n".join(lines) + "\n"
