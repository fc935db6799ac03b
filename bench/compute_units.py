"""Compute units per instruction over many random keys, account sizes and rent,
and the cost of Anchor's error line — from LiteSVM running the compiled program.

Every pool gets a fresh random organization, aggregator, pool id and trainers,
so every PDA's canonical bump (the only key-dependent cost: a bump search
hashes once per rejected bump) varies. Per key set four pool lives run on one
embedded chain:

- finished: create, fund, 3 joins, start; round 1 (3 commits, 3 reveals,
  accept / exclude / slash, finalize opening round 2); round 2 (commits,
  reveals, accept, a commitment never revealed slashed after the reveal
  deadline, finalize finishing the pool); claim, withdraw (closing and
  keeping the account), close_submission, reclaim, settle after the claim
  window, close_pool by a stranger;
- expired round: the aggregator goes silent, anyone expires the round;
- never started: anyone expires the pool after its join deadline + grace;
- cancelled: the organization cancels.

Prints min / median / max CU per instruction (target: every instruction
≤ 10,000 CU, worst case), account sizes with rent, and failing calls' CU.
With `--error-line` it also builds the program without the error line
(cargo feature `no-error-line`, `target/deploy/fedstake-no-error-line.so`)
and prints what the line costs for the same failing calls.

Run: `.venv/bin/python bench/compute_units.py [--keys 200] [--error-line]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.transaction import VersionedTransaction
from solders.transaction_metadata import FailedTransactionMetadata

from client_kit.errors import FedstakeProgramError
from client_kit.gateway.base import TxResult
from client_kit.gateway.embedded import EmbeddedGateway
from client_kit.idl import REPO_ROOT, load_idl
from client_kit.protocol import Reason, Verdict
from client_kit.scenario import SOL, AsyncPool

TARGET_CU = 10_000
WINDOW = 60  # seconds: round, reveal, grace and claim window of every pool
NO_LINE_SO = REPO_ROOT / "target" / "deploy" / "fedstake-no-error-line.so"

Samples = dict[str, list[int]]


def _key(rng: random.Random) -> Keypair:
    return Keypair.from_seed(rng.randbytes(32))


def _random_pool(chain: EmbeddedGateway, rng: random.Random) -> AsyncPool:
    return AsyncPool(chain, _key(rng), _key(rng), rng.getrandbits(64))


async def _pool(chain: EmbeddedGateway, rng: random.Random, trainers: int, **params: object):
    run = _random_pool(chain, rng)
    await run.setup()
    created = await run.create(
        round_duration=WINDOW,
        reveal_duration=WINDOW,
        expiry_grace=WINDOW,
        claim_window=WINDOW,
        **params,
    )
    joined = [await run.new_trainer(_key(rng)) for _ in range(trainers)]
    return run, created, joined


async def _finished_life(chain: EmbeddedGateway, rng: random.Random, record) -> dict[str, int]:
    run, created, trainers = await _pool(chain, rng, 3, max_rounds=2)
    record("create_pool", created)
    record("fund_pool", await run.fund(2 * SOL))
    for t in trainers:
        record("join_pool", await run.join(t))
    record("start_training", await run.start())
    a, b, c = trainers
    # round 1: everyone commits (so reveals open at once), reveals and is judged
    for t in trainers:
        record("submit_update", await run.submit(t, 1))
    for t in trainers:
        record("reveal_update", await run.reveal(t, 1))
    record("judge_submission", await run.judge(a, Verdict.ACCEPTED, 6_000))
    record("judge_submission", await run.judge(b, Verdict.EXCLUDED, 0, Reason.TRUST))
    record("judge_submission", await run.judge(c, Verdict.SLASHED, 0, Reason.NON_FINITE))
    sizes = {
        "Pool": len(await run.raw(run.pool)),
        "Participant": len(await run.raw(run.participant(a))),
        "Submission": len(await run.raw(run.ix.submission(run.pool, 1, a.wallet.pubkey()))),
        "Round": len(await run.raw(run.ix.round(run.pool, 1))),
    }
    record("finalize_round", await run.finalize(b"\x07" * 32, 1))
    # round 2: b commits and reveals; a commits and never reveals
    for t in (a, b):
        record("submit_update", await run.submit(t, 2))
    record("reveal_update", await run.reveal(b, 2))
    chain.set_time((await run.round_state(2)).reveal_deadline)
    record("judge_submission", await run.judge(b, Verdict.ACCEPTED, 10_000, round_number=2))
    record(
        "judge_submission",
        await run.judge(a, Verdict.SLASHED, 0, Reason.NOT_REVEALED, round_number=2),
    )
    record("finalize_round", await run.finalize(b"\x08" * 32, 2))
    # exits: b claims and withdraws (closes); a withdraws with its reward unpaid
    record("claim_reward", await run.claim(b, run.organization))
    record("withdraw_stake", await run.withdraw(b))
    record("withdraw_stake", await run.withdraw(a))
    for t, number in ((a, 1), (b, 1), (c, 1), (a, 2), (b, 2)):
        close = run.ix.close_submission(t.wallet.pubkey(), run.pool, number)
        record("close_submission", await run.send(close, t.wallet))
    stranger = run.aggregator
    record("reclaim_funding", await run.reclaim(stranger))
    pool = await run.pool_state()
    chain.set_time(pool.ended_at + pool.claim_window)
    record("settle_participant", await run.settle(a, stranger))
    record("settle_participant", await run.settle(c, stranger))
    record("reclaim_funding", await run.reclaim(stranger))
    record("close_pool", await run.close_pool(stranger))
    return sizes


async def _expired_round_life(chain: EmbeddedGateway, rng: random.Random, record) -> None:
    run, created, trainers = await _pool(chain, rng, 1)
    record("create_pool", created)
    await run.fund(SOL)
    await run.join(trainers[0])
    await run.start()
    chain.set_time((await run.round_state(1)).expires_at)
    record("expire_round", await run.expire_round(run.aggregator))
    record("withdraw_stake", await run.withdraw(trainers[0]))
    record("reclaim_funding", await run.reclaim(run.aggregator))
    record("close_pool", await run.close_pool())


async def _never_started_life(chain: EmbeddedGateway, rng: random.Random, record) -> None:
    run, created, trainers = await _pool(chain, rng, 1)
    record("create_pool", created)
    await run.join(trainers[0])
    pool = await run.pool_state()
    chain.set_time(pool.join_deadline + pool.expiry_grace)
    record("expire_pool", await run.expire_pool(run.aggregator))
    record("withdraw_stake", await run.withdraw(trainers[0]))
    record("close_pool", await run.close_pool())


async def _cancelled_life(chain: EmbeddedGateway, rng: random.Random, record) -> None:
    run, created, _ = await _pool(chain, rng, 0)
    record("create_pool", created)
    await run.fund(SOL)
    org = run.organization
    record("cancel_pool", await run.send(run.ix.cancel_pool(org.pubkey(), run.pool), org))
    record("close_pool", await run.close_pool())


async def measure(chain: EmbeddedGateway, keys: int, seed: int) -> tuple[Samples, dict[str, int]]:
    """CU samples per instruction over `keys` random key sets, and the data
    size of each account type."""
    rng = random.Random(seed)
    samples: Samples = defaultdict(list)

    def record(name: str, result: TxResult) -> None:
        samples[name].append(result.compute_units)

    sizes: dict[str, int] = {}
    for _ in range(keys):
        sizes = await _finished_life(chain, rng, record)
        await _expired_round_life(chain, rng, record)
        await _never_started_life(chain, rng, record)
        await _cancelled_life(chain, rng, record)
    return samples, sizes


def _failing_calls(chain: EmbeddedGateway) -> list[tuple[str, Instruction, list[Keypair]]]:
    """Calls that fail with a custom error: early (no accounts) and late (after
    loading and checking every account)."""
    # Fixed keys: both builds see the same PDAs (and bump searches).
    organization, aggregator = Keypair.from_seed(bytes(32)), Keypair.from_seed(bytes([1] * 32))
    run = AsyncPool(chain, organization, aggregator, 1)
    asyncio.run(run.setup())
    asyncio.run(run.create())
    org = run.organization
    program = chain.program_id
    judge = bytes(load_idl().instruction("judge_submission")["discriminator"])
    calls: list[tuple[str, Instruction, list[Keypair]]] = [
        ("UnknownInstruction (no data)", Instruction(program, b"", []), [org]),
        ("NotEnoughAccounts (judge_submission)", Instruction(program, judge, []), [org]),
    ]
    calls.append(
        ("InvalidAmount (fund_pool 0)", run.ix.fund_pool(org.pubkey(), run.pool, 0), [org])
    )
    calls.append(
        ("NoParticipants (start_training)", run.ix.start_training(org.pubkey(), run.pool), [org])
    )
    return calls


def _failing_cu(so_path: Path | None) -> dict[str, tuple[int, str]]:
    """CU of each failing call on the program at `so_path` (default build)."""
    chain = EmbeddedGateway(program_so=so_path)
    out = {}
    for label, ix, signers in _failing_calls(chain):
        message = MessageV0.try_compile(signers[0].pubkey(), [ix], [], chain.svm.latest_blockhash())
        result = chain.svm.send_transaction(VersionedTransaction(message, signers))
        chain.svm.expire_blockhash()
        assert isinstance(result, FailedTransactionMetadata), label
        logs = list(result.meta().logs())
        line = next((x for x in logs if "AnchorError occurred" in x), "")
        out[label] = (result.meta().compute_units_consumed(), line)
    return out


def _build_without_line() -> None:
    """Builds the `no-error-line` variant next to the real program (which must
    stay untouched: the tests and the demo load it)."""
    real = REPO_ROOT / "target" / "deploy" / "fedstake.so"
    before = real.read_bytes()
    env = {**os.environ, "FEDSTAKE_FEATURES": "no-error-line", "FEDSTAKE_SO": str(NO_LINE_SO)}
    subprocess.run(["bash", str(REPO_ROOT / "scripts" / "build_program.sh")], check=True, env=env)
    if real.read_bytes() != before:
        # sbpf-linker 0.1.9 also writes target/deploy/fedstake.so itself unless
        # told `--deploy=false`; put the real program back.
        real.write_bytes(before)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=200, help="random key sets (default 200)")
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument(
        "--error-line", action="store_true", help="also build without the line and compare"
    )
    args = parser.parse_args()

    chain = EmbeddedGateway()
    samples, sizes = asyncio.run(measure(chain, args.keys, args.seed))
    print(f"Compute units over {args.keys} random key sets (organization, pool id, trainers):\n")
    print("| instruction | calls | CU min | CU median | CU max | ≤ 10,000 |")
    print("| --- | ---: | ---: | ---: | ---: | :---: |")
    worst = 0
    for ix in load_idl().raw["instructions"]:
        values = samples[ix["name"]]
        if not values:
            print(f"| {ix['name']} | 0 | – | – | – | **not measured** |")
            worst = TARGET_CU + 1
            continue
        worst = max(worst, max(values))
        ok = "yes" if max(values) <= TARGET_CU else "**no**"
        print(
            f"| {ix['name']} | {len(values)} | {min(values):,} | "
            f"{int(statistics.median(values)):,} | {max(values):,} | {ok} |"
        )
    print()
    print("| account | bytes | rent-exempt lamports |")
    print("| --- | ---: | ---: |")
    for name, size in sizes.items():
        rent = chain.svm.minimum_balance_for_rent_exemption(size)
        print(f"| {name} | {size} | {rent:,} |")

    with_line = _failing_cu(None)
    without_line = None
    if args.error_line:
        _build_without_line()
        without_line = _failing_cu(NO_LINE_SO)
    print("\nFailing calls (Anchor's error line logged before each custom error):\n")
    header = "| failing call | CU | line bytes |" + (
        " CU without line | line costs |" if without_line else ""
    )
    print(header)
    print("| --- | ---: | ---: |" + (" ---: | ---: |" if without_line else ""))
    for label, (cu, line) in with_line.items():
        row = f"| {label} | {cu:,} | {len(line) - len('Program log: ')} |"
        if without_line:
            base = without_line[label][0]
            row += f" {base:,} | {cu - base:,} |"
        print(row)
    print(f"\nworst instruction: {worst:,} CU (target ≤ {TARGET_CU:,})")
    return 0 if worst <= TARGET_CU else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except FedstakeProgramError as exc:  # a scripted step was refused: a bench bug
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
