"""The operator service's cost: deadline → finalized latency, and resident memory.

Latency (embedded chain, one round, N participants, digits MLP of 2,410
parameters, default rule `trusted_mean` with the `contribution` policy and a
reference update trained on the operator's reference set): every participant
commits and reveals; the clock is moved to the reveal deadline and the
coordinator woken; measured = until `finalize_round` landed (gather the inputs
from chain and store, judge, journal, N `judge_submission`, store, finalize).
Baseline, measured in the same run on an identical pool: the bare
transactions — the same N verdicts and the finalize sent back to back with
nothing computed. The ratio is the operator's overhead over the chain's own
cost for the round.

Memory: one coordinator runs a pool of R rounds (P participants, same task)
in this process; its resident set size (VmRSS) is read after each finalized
round. Baseline: the RSS once the pool is set up, before the coordinator
starts. Reported: the increment over the baseline after round 1 and after
round R, and the growth from round 2 to round R (a leak shows as growth).

Run: `.venv/bin/python bench/operator.py [--participants 100] [--rounds 20]
[--memory-participants 10]`; prints Markdown (bench/results/operator.md).
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from solders.keypair import Keypair

from client_kit.actions import operator, organization, participant
from client_kit.actions.reads import find_round, load_pool
from client_kit.enums import PoolStatus, RewardPolicy
from client_kit.gateway.base import TxResult
from client_kit.gateway.embedded import EmbeddedGateway
from client_kit.storage.local import LocalStore
from client_kit.training.data import digits_mlp_spec, digits_shards
from client_kit.training.task import TaskPackage, TrainingConfig
from offchain.aggregator import gather_round
from offchain.coordinator import Coordinator, CoordinatorSettings
from offchain.journal import Journal
from offchain.judging import decide_round
from offchain.reference import OperatorData

SOL = 1_000_000_000
STAKE = SOL // 100
FEDERATION = digits_shards(8, alpha=0.5, seed=7)
TASK = TaskPackage.create(
    "digits", "bench", digits_mlp_spec(), TrainingConfig(epochs=1, batch_size=32, lr=0.05), seed=1
)


def rss_mb() -> float:
    """This process's resident set size (VmRSS), MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


Recorder = Callable[[str, TxResult], None]
"""`record(instruction_name, tx)`: sees every transaction a `Pool` sends."""


class Pool:
    """A digits pool on a fresh embedded chain with `n` funded participants
    (stake `STAKE` each); `record`, if given, sees each transaction sent
    (bench/participants.py reads its compute units)."""

    def __init__(self, root: Path, n: int, rounds: int, record: Recorder | None = None) -> None:
        self.chain = EmbeddedGateway()
        self.store = LocalStore(root / "store")
        self.org, self.agg = Keypair(), Keypair()
        self.n, self.rounds = n, rounds
        self.wallets = [Keypair() for _ in range(n)]
        self.key = None
        self.record: Recorder = record or (lambda _name, _tx: None)

    async def setup(self) -> None:
        await self.chain.airdrop(self.org.pubkey(), (10 + self.rounds) * SOL)
        await self.chain.airdrop(self.agg.pubkey(), 10 * SOL)
        terms = organization.PoolTerms(
            reward_per_round=SOL,
            max_rounds=self.rounds,
            max_participants=self.n,
            min_stake=STAKE,
            reward_policy=RewardPolicy.CONTRIBUTION,
        )
        created = await organization.create_pool(
            self.chain, self.store, self.org, TASK, terms, aggregator=self.agg.pubkey()
        )
        self.record("create_pool", created.tx)
        self.key = created.pool
        funded = await organization.fund_pool(self.chain, self.org, self.key, terms.funding_needed)
        self.record("fund_pool", funded.tx)
        for wallet in self.wallets:
            await self.chain.airdrop(wallet.pubkey(), SOL)
            joined = await participant.join_pool(self.chain, wallet, self.key, STAKE)
            self.record("join_pool", joined.tx)
        started = await organization.start_training(self.chain, self.org, self.key)
        self.record("start_training", started)

    async def play(self, number: int) -> None:
        """Every participant commits and reveals a distinct small update."""
        base = TASK.initial_tensors()
        prepared = {}
        for i, wallet in enumerate(self.wallets):
            rng = np.random.default_rng([number, i])
            update = {
                k: (0.01 * rng.standard_normal(v.shape)).astype(np.float32) for k, v in base.items()
            }
            prepared[i] = participant.prepare_update(update)
            sent = await participant.submit_update(self.chain, wallet, self.key, prepared[i], 50)
            self.record("submit_update", sent.tx)
        for i, wallet in enumerate(self.wallets):
            revealed = await participant.reveal_update(
                self.chain, self.store, wallet, self.key, prepared[i]
            )
            self.record("reveal_update", revealed.tx)

    async def to_reveal_deadline(self, number: int) -> None:
        state = await find_round(self.chain, self.key, number)
        assert state is not None
        self.chain.set_time(state.reveal_deadline)


class NoEvaluation(OperatorData):
    """Reference data only: the round ends at `finalize_round` (no evaluation after it)."""

    def evaluate(self, task, weights):  # type: ignore[no-untyped-def]
        return None


async def latency(n: int) -> dict[str, float]:
    data = NoEvaluation(reference=FEDERATION.shards[0])
    data.reference_update(TASK, TASK.initial_tensors(), 0)  # warm up torch outside the timings
    with tempfile.TemporaryDirectory(prefix="fedstake-bench-operator-") as tmp:
        # the operator
        measured = Pool(Path(tmp) / "a", n, 1)
        await measured.setup()
        await measured.play(1)
        await measured.to_reveal_deadline(1)
        coordinator = Coordinator(
            measured.chain, measured.store, measured.agg, measured.key, Journal(Path(tmp) / "op"),
            data=data, settings=CoordinatorSettings(poll=3600),
        )  # fmt: skip
        t0 = time.perf_counter()
        await coordinator.step()
        operator_s = time.perf_counter() - t0
        assert (await load_pool(measured.chain, measured.key)).status is PoolStatus.FINISHED

        # the bare transactions on an identical pool, verdicts computed beforehand
        bare = Pool(Path(tmp) / "b", n, 1)
        await bare.setup()
        await bare.play(1)
        await bare.to_reveal_deadline(1)
        t0 = time.perf_counter()
        inputs = await gather_round(
            bare.chain, bare.store, bare.key, reference=data.reference_update
        )
        gather_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        decision = decide_round(inputs)
        decide_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        for j in decision.judged:
            await operator.judge_submission(
                bare.chain, bare.agg, bare.key, 1, j.wallet, j.verdict, j.score_bps, j.reason
            )
        await operator.record_finalization(
            bare.chain, bare.agg, bare.key, 1, decision.global_hash, decision.global_cid,
            decision.global_cid,
        )  # fmt: skip
        bare_s = time.perf_counter() - t0
    return {
        "operator_s": operator_s,
        "bare_s": bare_s,
        "gather_s": gather_s,
        "decide_s": decide_s,
    }


async def memory(n: int, rounds: int) -> list[float]:
    data = OperatorData(reference=FEDERATION.shards[0], validation=FEDERATION.test)
    with tempfile.TemporaryDirectory(prefix="fedstake-bench-operator-") as tmp:
        pool = Pool(Path(tmp), n, rounds)
        await pool.setup()
        samples = [rss_mb()]
        coordinator = Coordinator(
            pool.chain, pool.store, pool.agg, pool.key, Journal(Path(tmp) / "op"),
            data=data, settings=CoordinatorSettings(poll=3600),
        )  # fmt: skip
        for number in range(1, rounds + 1):
            await pool.play(number)
            await coordinator.step()  # everyone revealed: the round is judged at once
            assert coordinator.status.last_finalized == number
            samples.append(rss_mb())
    return samples


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--memory-participants", type=int, default=10)
    args = parser.parse_args()
    lat = await latency(args.participants)
    mem = await memory(args.memory_participants, args.rounds)
    n, r, m = args.participants, args.rounds, args.memory_participants
    out = [
        f"# Operator service ({platform.machine()}, Python {platform.python_version()})",
        "",
        "Reproduce: `.venv/bin/python bench/operator.py "
        f"--participants {n} --rounds {r} --memory-participants {m}`",
        "",
        f"## Deadline → finalized, {n} participants, embedded chain",
        "",
        "| what | seconds | × baseline |",
        "| --- | ---: | ---: |",
    ]
    base = lat["bare_s"]
    rows = [
        (f"baseline: the bare {n} `judge_submission` + `finalize_round` transactions", base),
        ("operator: gather + judge + journal + send + store + finalize", lat["operator_s"]),
        (f"of which gathering the inputs ({n} fetches, reference training)", lat["gather_s"]),
        ("of which judging (`decide_round`)", lat["decide_s"]),
    ]
    out += [f"| {what} | {sec:.3f} | {sec / base:.2f} |" for what, sec in rows]
    out += [
        "",
        f"## Resident memory over a {r}-round pool ({m} participants, one process)",
        "",
        "| after | RSS MB | over baseline MB |",
        "| --- | ---: | ---: |",
        f"| baseline: pool set up, operator not started | {mem[0]:.1f} | 0.0 |",
    ]
    for number in sorted({1, 2, r // 2, r}):
        out.append(f"| round {number} | {mem[number]:.1f} | {mem[number] - mem[0]:.1f} |")
    growth = mem[r] - mem[2]
    out += [
        "",
        f"Growth from round 2 to round {r}: {growth:+.1f} MB "
        f"({growth / max(r - 2, 1):+.2f} MB per round).",
    ]
    print("\n".join(out))


if __name__ == "__main__":
    asyncio.run(main())
