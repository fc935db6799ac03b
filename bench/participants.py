"""1,000 participants in one pool on the embedded chain (LiteSVM, the compiled
program): CU per instruction against the participant count, rent, fees, and
the operator's wall time for a round.

For each participant count N (default 10, 100, 1,000) a fresh chain gets one
pool (digits MLP task, 2,410 parameters, default rule and policy, two rounds)
with N participants. Every participant joins, commits and reveals a distinct
small update for round 1 (`client_kit.actions`); the clock moves to the reveal
deadline; the operator gathers the round from chain and store (listing the
submissions, fetching and checking every update), decides it
(`offchain.judging.decide_round`), sends N `judge_submission`, stores the
global model and round record and sends `finalize_round`, which opens round 2.

Printed per N:
- CU min / median / max per instruction over its N calls (the question: is it
  flat in N? The spread within one N comes from the keys: a participant's PDA
  bump search, see bench/compute_units.py);
- rent locked by the round's accounts, and how much of it the exits give back
  (participant and submission accounts are closed by their owners, the pool by
  `close_pool`; round accounts stay as the provenance chain);
- fees per round: the lamports participants and the operator pay beyond rent
  (LiteSVM charges Solana's 5,000 lamports per signature, no priority fee);
- the operator's wall time for the round (gather, decide, judge, store,
  finalize), with its parts. Baseline for the wall time, measured in the same
  run: the round at N = the smallest count, the ratio per participant shows
  whether the operator scales linearly.

Run: `.venv/bin/python bench/participants.py [--participants 10 100 1000]`;
prints Markdown (bench/results/participants.md).
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from bench.operator import FEDERATION, SOL
from bench.operator import Pool as BenchPool
from client_kit.accounts import Participant, Pool, Round, Submission, account_size
from client_kit.actions import operator
from client_kit.actions.reads import find_round, load_pool
from client_kit.enums import PoolStatus
from client_kit.gateway.base import TxResult
from client_kit.gateway.embedded import EmbeddedGateway
from offchain.aggregator import gather_round, store_outputs
from offchain.judging import decide_round
from offchain.reference import OperatorData

#: the operator's reference set (the default rule, trusted mean, needs a reference update)
REFERENCE = OperatorData(reference=FEDERATION.shards[0])
ORDER = (
    "create_pool",
    "fund_pool",
    "join_pool",
    "start_training",
    "submit_update",
    "reveal_update",
    "judge_submission",
    "finalize_round",
)


@dataclass
class Result:
    """One participant count's figures (CU samples, lamports, seconds)."""

    n: int
    cu: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    rent: dict[str, int] = field(default_factory=dict)
    participant_fees: int = 0
    operator_fees: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def _record(result: Result, name: str, tx: TxResult) -> None:
    result.cu[name].append(tx.compute_units)


async def _balance(chain: EmbeddedGateway, key) -> int:  # type: ignore[no-untyped-def]
    return chain.svm.get_balance(key) or 0


async def run(n: int, root: Path) -> Result:
    """One pool with `n` participants through round 1; see the module docs."""
    result = Result(n)
    world = BenchPool(root, n, 2, record=lambda name, tx: _record(result, name, tx))
    chain, store, agg, wallets = world.chain, world.store, world.agg, world.wallets
    rent = chain.svm.minimum_balance_for_rent_exemption
    await world.setup()
    pool = world.key
    assert pool is not None

    # participants: commit and reveal (fees = balance change beyond the submission's rent)
    before = [await _balance(chain, w.pubkey()) for w in wallets]
    await world.play(1)
    after = [await _balance(chain, w.pubkey()) for w in wallets]
    submission_rent = rent(account_size(Submission))
    result.participant_fees = sum(before) - sum(after) - n * submission_rent

    # the operator's round
    first = await find_round(chain, pool, 1)
    assert first is not None
    chain.set_time(first.reveal_deadline)
    agg_before = await _balance(chain, agg.pubkey())
    t0 = time.perf_counter()
    inputs = await gather_round(chain, store, pool, reference=REFERENCE.reference_update)
    t1 = time.perf_counter()
    decision = await asyncio.to_thread(decide_round, inputs)
    t2 = time.perf_counter()
    for j in decision.judged:
        tx = await operator.judge_submission(
            chain, agg, pool, decision.round, j.wallet, j.verdict, j.score_bps, j.reason
        )
        _record(result, "judge_submission", tx)
    t3 = time.perf_counter()
    model_cid, record_cid = await store_outputs(store, decision)
    done = await operator.record_finalization(
        chain, agg, pool, decision.round, decision.global_hash, model_cid, record_cid
    )
    t4 = time.perf_counter()
    _record(result, "finalize_round", done.tx)
    round_rent = rent(account_size(Round))
    result.operator_fees = agg_before - await _balance(chain, agg.pubkey()) - round_rent
    result.seconds = {
        "gather": t1 - t0,
        "decide": t2 - t1,
        "judge": t3 - t2,
        "finalize": t4 - t3,
        "total": t4 - t0,
    }
    state = await find_round(chain, pool, 2)
    assert state is not None and len(decision.judged) == n

    # rent held by the pool's accounts after round 1 (rounds 1 and 2 exist)
    counts = {Pool: 1, Participant: n, Submission: n, Round: 2}
    result.rent = {cls.NAME: count * rent(account_size(cls)) for cls, count in counts.items()}
    assert (await load_pool(chain, pool)).status is PoolStatus.TRAINING
    return result


def _sol(lamports: int) -> str:
    return f"{lamports / SOL:,.4f}"


def report(results: list[Result]) -> None:
    counts = [r.n for r in results]
    machine = platform.processor() or platform.machine()
    print(f"Machine: {machine}, Python {platform.python_version()}")
    print("\nCU per instruction (min / median / max over its calls), by participant count:\n")
    print("| instruction | " + " | ".join(f"N = {n:,}" for n in counts) + " |")
    print("| --- |" + " ---: |" * len(counts))
    for name in ORDER:
        cells = []
        for r in results:
            v = r.cu[name]
            cells.append(f"{min(v):,} / {int(statistics.median(v)):,} / {max(v):,}")
        print(f"| {name} | " + " | ".join(cells) + " |")

    print("\nRent locked after round 1 (SOL), and what the exits give back:\n")
    print("| account | " + " | ".join(f"N = {n:,}" for n in counts) + " | reclaimable |")
    print("| --- |" + " ---: |" * len(counts) + " --- |")
    how = {
        "Pool": "yes: `close_pool` (to the organization)",
        "Participant": "yes: `withdraw_stake` / `settle_participant` (to the wallet)",
        "Submission": "yes: `close_submission` (to the wallet)",
        "Round": "no: the model provenance chain stays",
    }
    for name in how:
        cells = " | ".join(_sol(r.rent[name]) for r in results)
        print(f"| {name} | {cells} | {how[name]} |")
    totals = [sum(r.rent.values()) for r in results]
    kept = [r.rent["Round"] for r in results]
    print("| **total** | " + " | ".join(_sol(t) for t in totals) + " | |")
    print(
        "| **reclaimable** | "
        + " | ".join(_sol(t - k) for t, k in zip(totals, kept, strict=True))
        + " | |"
    )

    print("\nFees per round (lamports beyond rent; 5,000 per signature):\n")
    print("| payer | " + " | ".join(f"N = {n:,}" for n in counts) + " |")
    print("| --- |" + " ---: |" * len(counts))
    print("| participants (commit + reveal), total | "
          + " | ".join(f"{r.participant_fees:,}" for r in results) + " |")  # fmt: skip
    print("| per participant | "
          + " | ".join(f"{r.participant_fees // r.n:,}" for r in results) + " |")  # fmt: skip
    print("| operator (N verdicts + finalize) | "
          + " | ".join(f"{r.operator_fees:,}" for r in results) + " |")  # fmt: skip

    base = results[0]
    print(
        f"\nOperator wall time per round (s; baseline: N = {base.n:,} in the same run,"
        " ratio per participant = (t / N) / (t_base / N_base)):\n"
    )
    print("| part | " + " | ".join(f"N = {n:,}" for n in counts) + " |")
    print("| --- |" + " ---: |" * len(counts))
    for part in ("gather", "decide", "judge", "finalize", "total"):
        print(f"| {part} | " + " | ".join(f"{r.seconds[part]:.3f}" for r in results) + " |")
    per = [r.seconds["total"] / r.n for r in results]
    print("| total per participant (ms) | " + " | ".join(f"{p * 1e3:.2f}" for p in per) + " |")
    print("| ratio per participant vs baseline | "
          + " | ".join(f"{p / per[0]:.2f}" for p in per) + " |")  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, nargs="+", default=[10, 100, 1000])
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="fedstake-bench-participants-") as tmp:
        # warm-up, not reported: torch's reference training and the compiled
        # aggregation kernels' first call stay out of the timings
        await run(3, Path(tmp) / "warm-up")
        for n in sorted(args.participants):
            t0 = time.perf_counter()
            results.append(await run(n, Path(tmp) / str(n)))
            print(f"[N = {n}: {time.perf_counter() - t0:.1f} s]", file=sys.stderr)
    report(results)


if __name__ == "__main__":
    asyncio.run(main())
