"""Compute units per instruction over many random keys, account sizes and rent,
and the cost of Anchor's error line — from LiteSVM running the compiled program.

Every pool gets a fresh organization, aggregator, pool id and trainers drawn
from a seeded generator, so every PDA's canonical bump (the only key-dependent
cost: a bump search hashes once per rejected bump) varies between pools and
the figures repeat from run to run. Per key set four pool lives run on one
embedded chain, each step through `client_kit.actions`:

- finished: create, fund, 3 joins, start; round 1 (3 commits, 3 reveals,
  accept / exclude / slash, finalize opening round 2); round 2 (commits, a
  reveal, accept, a commitment never revealed slashed after the reveal
  deadline, finalize finishing the pool); claim, withdraw (closing and
  keeping the account), close_submission, reclaim, settle after the claim
  window, close_pool by a stranger;
- expired round: the aggregator goes silent, anyone expires the round;
- never started: anyone expires the pool after its join deadline + grace;
- cancelled: the organization cancels.

Prints min / median / max CU per instruction (targets, issue 13: every
instruction ≤ 5,000 CU in the worst case over the key sets, and the median
≤ 2,500 CU — given both over all calls and over the instructions' medians),
account sizes with rent, and failing calls' CU. Missed targets are printed,
not turned into an exit status (`make bench` runs on).
`--baseline OTHER.so` runs the same lives (same keys) on another build of the
program in the same process and adds its CU max and the ratio (the build must
take the same instruction layout: client_kit builds the calls). With
`--error-line` it also builds the program without the error line (cargo
feature `no-error-line`, `target/deploy/fedstake-no-error-line.so`) and
prints what the line costs for the same failing calls.

Run: `.venv/bin/python bench/compute_units.py [--keys 200] [--error-line]
[--baseline OTHER.so]` (`make bench` runs the default).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client_kit.accounts import Participant, Pool, Round, Submission, account_size
from client_kit.actions import exits, operator, organization, participant
from client_kit.actions.reads import find_round, load_pool
from client_kit.canonical import encode_tensors
from client_kit.enums import Reason, Verdict
from client_kit.errors import FedstakeProgramError, TransactionFailed
from client_kit.gateway.base import TxResult
from client_kit.gateway.embedded import EmbeddedGateway
from client_kit.idl import REPO_ROOT, load_idl
from client_kit.keys import PayoutSecret
from client_kit.storage.local import LocalStore
from client_kit.training.spec import mlp_spec
from client_kit.training.task import TaskPackage, TrainingConfig

TARGET_CU = 5_000
TARGET_MEDIAN_CU = 2_500
SOL = 1_000_000_000
WINDOW = 60  # seconds: round, reveal, grace, claim window and join window of every pool
NO_LINE_SO = REPO_ROOT / "target" / "deploy" / "fedstake-no-error-line.so"
TERMS = organization.PoolTerms(
    reward_per_round=SOL,
    max_rounds=1,
    round_duration=WINDOW,
    join_window=WINDOW,
    min_stake=SOL // 10,
    max_participants=5,
    reveal_duration=WINDOW,
    expiry_grace=WINDOW,
    claim_window=WINDOW,
)
TASK = TaskPackage.create("cu", "", mlp_spec(3, [], 2), TrainingConfig(), seed=0)
_CONSUMED = re.compile(r"^Program (\S+) consumed (\d+) of \d+ compute units$")

Samples = dict[str, list[int]]


@dataclass
class Member:
    wallet: Keypair
    secret: PayoutSecret | None = None
    update: participant.PreparedUpdate | None = None


@dataclass
class Life:
    """One pool with seeded keys, driven through the actions; `record` keeps CU."""

    chain: EmbeddedGateway
    store: LocalStore
    rng: random.Random
    samples: Samples
    org: Keypair = field(init=False)
    agg: Keypair = field(init=False)
    pool: Pubkey = field(init=False)
    members: list[Member] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.org, self.agg = self.key(), self.key()

    def key(self) -> Keypair:
        return Keypair.from_seed(self.rng.randbytes(32))

    def record(self, name: str, tx: TxResult) -> None:
        self.samples[name].append(tx.compute_units)

    async def create(self, trainers: int, **terms: object) -> None:
        for key in (self.org, self.agg):
            await self.chain.airdrop(key.pubkey(), 20 * SOL)
        terms_ = replace(TERMS, **terms)  # type: ignore[arg-type]
        created = await organization.create_pool(
            self.chain,
            self.store,
            self.org,
            TASK,
            terms_,
            pool_id=self.rng.getrandbits(64),
            aggregator=self.agg.pubkey(),
        )
        self.pool = created.pool
        self.record("create_pool", created.tx)
        for _ in range(trainers):
            member = Member(self.key())
            await self.chain.airdrop(member.wallet.pubkey(), 2 * SOL)
            self.members.append(member)

    async def join(self, member: Member) -> None:
        joined = await participant.join_pool(
            self.chain, member.wallet, self.pool, SOL // 2, payout_wallet=self.key().pubkey()
        )
        member.secret = joined.secret
        self.record("join_pool", joined.tx)

    async def commit(self, member: Member, number: int) -> None:
        value = self.rng.random()
        member.update = participant.prepare_update(
            {name: np.full(shape, value, np.float32) for name, shape in SHAPES}
        )
        sent = await participant.submit_update(
            self.chain, member.wallet, self.pool, member.update, 100
        )
        self.record("submit_update", sent.tx)

    async def reveal(self, member: Member) -> None:
        assert member.update is not None
        revealed = await participant.reveal_update(
            self.chain, self.store, member.wallet, self.pool, member.update
        )
        self.record("reveal_update", revealed.tx)

    async def judge(
        self, member: Member, number: int, verdict: Verdict, score: int, reason: Reason
    ):
        tx = await operator.judge_submission(
            self.chain, self.agg, self.pool, number, member.wallet.pubkey(), verdict, score, reason
        )
        self.record("judge_submission", tx)

    async def finalize(self, number: int) -> None:
        model = encode_tensors({name: np.full(shape, number, np.float32) for name, shape in SHAPES})
        done = await operator.finalize_round(
            self.chain, self.store, self.agg, self.pool, number, model, b"bench round record"
        )
        self.record("finalize_round", done.tx)


SHAPES = tuple(TASK.model.parameter_shapes().items())


async def _finished_life(life: Life) -> None:
    chain = life.chain
    await life.create(3, max_rounds=2)
    life.record("fund_pool", (await organization.fund_pool(chain, life.org, life.pool, 2 * SOL)).tx)
    for member in life.members:
        await life.join(member)
    life.record("start_training", await organization.start_training(chain, life.org, life.pool))
    a, b, c = life.members
    # round 1: everyone commits (so reveals open at once), reveals and is judged
    for member in life.members:
        await life.commit(member, 1)
    for member in life.members:
        await life.reveal(member)
    await life.judge(a, 1, Verdict.ACCEPTED, 6_000, Reason.OK)
    await life.judge(b, 1, Verdict.EXCLUDED, 0, Reason.TRUST)
    await life.judge(c, 1, Verdict.SLASHED, 0, Reason.NON_FINITE)
    await life.finalize(1)
    # round 2: a and b (c was slashed) commit, so reveals open; b reveals, a never does
    for member in (a, b):
        await life.commit(member, 2)
    await life.reveal(b)
    second = await find_round(chain, life.pool, 2)
    assert second is not None
    chain.set_time(second.reveal_deadline)
    await life.judge(b, 2, Verdict.ACCEPTED, 10_000, Reason.OK)
    await life.judge(a, 2, Verdict.SLASHED, 0, Reason.NOT_REVEALED)
    await life.finalize(2)
    # exits: b claims and withdraws (closes); a withdraws with its reward unpaid
    assert b.secret is not None
    life.record(
        "claim_reward", (await participant.claim_reward(chain, life.org, life.pool, b.secret)).tx
    )
    for member in (b, a):
        life.record(
            "withdraw_stake", (await participant.withdraw_stake(chain, member.wallet, life.pool)).tx
        )
    for member, number in ((a, 1), (b, 1), (c, 1), (a, 2), (b, 2)):
        tx = await participant.close_submission(chain, member.wallet, life.pool, number)
        life.record("close_submission", tx)
    stranger = life.agg
    life.record("reclaim_funding", (await exits.reclaim_funding(chain, stranger, life.pool)).tx)
    pool = await load_pool(chain, life.pool)
    chain.set_time(pool.ended_at + pool.claim_window)
    for member in (a, c):
        settled = await exits.settle_participant(chain, stranger, life.pool, member.wallet.pubkey())
        life.record("settle_participant", settled.tx)
    life.record("reclaim_funding", (await exits.reclaim_funding(chain, stranger, life.pool)).tx)
    life.record("close_pool", await exits.close_pool(chain, stranger, life.pool))


async def _expired_round_life(life: Life) -> None:
    chain = life.chain
    await life.create(1)
    await organization.fund_pool(chain, life.org, life.pool, SOL)
    await life.join(life.members[0])
    await organization.start_training(chain, life.org, life.pool)
    first = await find_round(chain, life.pool, 1)
    assert first is not None
    chain.set_time(first.expires_at)
    life.record("expire_round", await exits.expire_round(chain, life.agg, life.pool))
    withdrawn = await participant.withdraw_stake(chain, life.members[0].wallet, life.pool)
    life.record("withdraw_stake", withdrawn.tx)
    life.record("reclaim_funding", (await exits.reclaim_funding(chain, life.agg, life.pool)).tx)
    life.record("close_pool", await exits.close_pool(chain, life.org, life.pool))


async def _never_started_life(life: Life) -> None:
    chain = life.chain
    await life.create(1)
    await life.join(life.members[0])
    pool = await load_pool(chain, life.pool)
    chain.set_time(pool.join_deadline + pool.expiry_grace)
    life.record("expire_pool", await exits.expire_pool(chain, life.agg, life.pool))
    withdrawn = await participant.withdraw_stake(chain, life.members[0].wallet, life.pool)
    life.record("withdraw_stake", withdrawn.tx)
    life.record("close_pool", await exits.close_pool(chain, life.org, life.pool))


async def _cancelled_life(life: Life) -> None:
    await life.create(0)
    await organization.fund_pool(life.chain, life.org, life.pool, SOL)
    life.record("cancel_pool", await organization.cancel_pool(life.chain, life.org, life.pool))
    life.record("close_pool", await exits.close_pool(life.chain, life.org, life.pool))


LIVES: tuple[Callable[[Life], object], ...] = (
    _finished_life,
    _expired_round_life,
    _never_started_life,
    _cancelled_life,
)


async def measure(chain: EmbeddedGateway, keys: int, seed: int) -> Samples:
    """CU samples per instruction over `keys` seeded key sets (four lives each)."""
    rng = random.Random(seed)
    store = LocalStore(Path(tempfile.mkdtemp(prefix="fedstake-cu-store-")))
    samples: Samples = defaultdict(list)
    for _ in range(keys):
        for life in LIVES:
            await life(Life(chain, store, rng, samples))  # type: ignore[misc]
    return samples


def _consumed(logs: list[str], program: Pubkey) -> int:
    """The program's compute units from a transaction's logs (the runtime's
    `Program <id> consumed N of M compute units` line)."""
    for line in logs:
        match = _CONSUMED.match(line)
        if match and match.group(1) == str(program):
            return int(match.group(2))
    raise ValueError("no compute-unit line in the logs")


async def _failing_cu(so_path: Path | None) -> dict[str, tuple[int, str]]:
    """CU and Anchor error line of calls that fail with a custom error, early
    (no accounts) and late (after loading and checking every account), on the
    program at `so_path` (default: the packaged build). Fixed keys, so every
    build sees the same PDAs and bump searches."""
    chain = EmbeddedGateway(program_so=so_path)
    life = Life(chain, LocalStore(Path(tempfile.mkdtemp())), random.Random(1), defaultdict(list))
    await life.create(0)
    org, program = life.org, chain.program_id
    judge = bytes(load_idl().instruction("judge_submission")["discriminator"])
    calls = {
        "UnknownInstruction (no data)": lambda: chain.send([Instruction(program, b"", [])], [org]),
        "NotEnoughAccounts (judge_submission)": lambda: chain.send(
            [Instruction(program, judge, [])], [org]
        ),
        "InvalidAmount (fund_pool 0)": lambda: organization.fund_pool(chain, org, life.pool, 0),
        "NoParticipants (start_training)": lambda: organization.start_training(
            chain, org, life.pool
        ),
    }
    out = {}
    for label, call in calls.items():
        try:
            await call()
        except FedstakeProgramError as failure:
            line = next((x for x in failure.logs if "AnchorError occurred" in x), "")
            out[label] = (_consumed(failure.logs, program), line)
        else:
            raise AssertionError(f"{label} did not fail")
    return out


def _build_without_line() -> None:
    """Builds the `no-error-line` variant next to the real program; the build
    script leaves target/deploy/fedstake.so, the IDL and the package data alone
    (sbpf-linker runs with `--deploy=false`)."""
    env = {**os.environ, "FEDSTAKE_FEATURES": "no-error-line", "FEDSTAKE_SO": str(NO_LINE_SO)}
    script = str(REPO_ROOT / "scripts" / "build_program.sh")
    sys.stdout.flush()  # the build's progress goes to stderr, after what was printed
    subprocess.run(["bash", script], check=True, env=env, stdout=sys.stderr)


def _table(samples: Samples, base: Samples | None) -> int:
    """Prints the CU table and the medians; returns the worst instruction's CU max."""
    extra = " baseline CU max | ratio |" if base else ""
    print(
        f"| instruction | calls | CU min | CU median | CU max | max ≤ {TARGET_CU:,} |"
        f" median ≤ {TARGET_MEDIAN_CU:,} |{extra}"
    )
    rule = "| --- | ---: | ---: | ---: | ---: | :---: | :---: |"
    print(rule + (" ---: | ---: |" if base else ""))
    worst = 0
    medians: list[float] = []
    for ix in load_idl().raw["instructions"]:
        values = samples[ix["name"]]
        if not values:
            print(f"| {ix['name']} | 0 | – | – | – | **not measured** | |")
            worst = TARGET_CU + 1
            continue
        worst = max(worst, max(values))
        median = statistics.median(values)
        medians.append(median)
        ok = "yes" if max(values) <= TARGET_CU else "**no**"
        ok_median = "yes" if median <= TARGET_MEDIAN_CU else "**no**"
        row = (
            f"| {ix['name']} | {len(values)} | {min(values):,} | "
            f"{int(median):,} | {max(values):,} | {ok} | {ok_median} |"
        )
        if base:
            before = max(base[ix["name"]])
            row += f" {before:,} | {max(values) / before:.3f} |"
        print(row)
    every_call = [v for values in samples.values() for v in values]
    print(
        f"\nmedian over all {len(every_call):,} calls: {int(statistics.median(every_call)):,} CU;"
        f" median of the {len(medians)} instructions' medians:"
        f" {int(statistics.median(medians)):,} CU (target ≤ {TARGET_MEDIAN_CU:,})"
    )
    return worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=200, help="seeded key sets (default 200)")
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another build of the program (.so) to run the same lives on, for a ratio",
    )
    parser.add_argument(
        "--error-line", action="store_true", help="also build without the line and compare"
    )
    args = parser.parse_args(argv)

    chain = EmbeddedGateway()
    samples = asyncio.run(measure(chain, args.keys, args.seed))
    base = None
    if args.baseline:
        base = asyncio.run(measure(EmbeddedGateway(args.baseline), args.keys, args.seed))
    print(f"Compute units over {args.keys} seeded key sets (organization, pool id, trainers):\n")
    worst = _table(samples, base)
    print("\n| account | bytes | rent-exempt lamports |")
    print("| --- | ---: | ---: |")
    for cls in (Pool, Participant, Submission, Round):
        size = account_size(cls)
        print(f"| {cls.NAME} | {size} | {chain.svm.minimum_balance_for_rent_exemption(size):,} |")

    with_line = asyncio.run(_failing_cu(None))
    without_line = None
    if args.error_line:
        _build_without_line()
        without_line = asyncio.run(_failing_cu(NO_LINE_SO))
    print("\nFailing calls (Anchor's error line logged before each custom error):\n")
    header = "| failing call | CU | line bytes |" + (
        " CU without line | line costs |" if without_line else ""
    )
    print(header)
    print("| --- | ---: | ---: |" + (" ---: | ---: |" if without_line else ""))
    for label, (cu, line) in with_line.items():
        row = f"| {label} | {cu:,} | {len(line) - len('Program log: ')} |"
        if without_line:
            baseline_cu = without_line[label][0]
            row += f" {baseline_cu:,} | {cu - baseline_cu:,} |"
        print(row)
    verdict = "met" if worst <= TARGET_CU else "**missed**"
    print(f"\nworst instruction: {worst:,} CU (target ≤ {TARGET_CU:,}: {verdict})")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except TransactionFailed as exc:  # a scripted step was refused: a bench bug
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
