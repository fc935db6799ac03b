"""Compute units per instruction, account sizes and rent, from LiteSVM.

Runs the shared scripted pool life (`client_kit.scenario`) on the embedded SVM:
three trainers join and submit, two are accepted and one rejected, the round
is finalized, rewards claimed, submissions closed, stakes withdrawn and the
pool closed; a second pool is cancelled. Prints Markdown tables. Target:
every instruction ≤ 15,000 CU. Run: `make bench` or `.venv/bin/python
bench/compute_units.py`.
"""

from __future__ import annotations

import asyncio
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from client_kit.gateway.base import TxResult
from client_kit.gateway.embedded import EmbeddedGateway
from client_kit.idl import load_idl
from client_kit.protocol import Verdict
from client_kit.scenario import SOL, AsyncPool

TARGET_CU = 15_000


async def measure(chain: EmbeddedGateway) -> tuple[dict[str, list[int]], dict[str, int]]:
    """CU samples per instruction, and the data size of each account type."""
    samples: dict[str, list[int]] = defaultdict(list)

    def record(name: str, result: TxResult) -> None:
        samples[name].append(result.compute_units)

    run = AsyncPool(chain)
    await run.setup()
    record("create_pool", await run.create())
    record("fund_pool", await run.fund(SOL))
    trainers = [await run.new_trainer() for _ in range(3)]
    for trainer in trainers:
        record("join_pool", await run.join(trainer))
    record("start_training", await run.start())
    for trainer in trainers:
        record("submit_update", await run.submit(trainer))
    for trainer in trainers:
        record("reveal_update", await run.reveal(trainer))
    record("judge_submission", await run.judge(trainers[0], Verdict.ACCEPTED, 6_000))
    record("judge_submission", await run.judge(trainers[1], Verdict.ACCEPTED, 4_000))
    record("judge_submission", await run.judge(trainers[2], Verdict.SLASHED, 0))
    sizes = {
        "Pool": len(await run.raw(run.pool)),
        "Participant": len(await run.raw(run.participant(trainers[0]))),
        "Submission": len(
            await run.raw(run.ix.submission(run.pool, 1, trainers[0].wallet.pubkey()))
        ),
        "Round": len(await run.raw(run.ix.round(run.pool, 1))),
    }
    record("finalize_round", await run.finalize(b"\x07" * 32))
    for trainer in trainers[:2]:
        record("claim_reward", await run.claim(trainer, run.organization))
    for trainer in trainers:
        close = run.ix.close_submission(trainer.wallet.pubkey(), run.pool, 1)
        record("close_submission", await run.send(close, trainer.wallet))
        record("withdraw_stake", await run.withdraw(trainer))
    org = run.organization
    record("close_pool", await run.send(run.ix.close_pool(org.pubkey(), run.pool), org))

    cancelled = AsyncPool(chain)
    await cancelled.setup()
    await cancelled.create()
    corg = cancelled.organization
    record(
        "cancel_pool",
        await cancelled.send(cancelled.ix.cancel_pool(corg.pubkey(), cancelled.pool), corg),
    )
    return samples, sizes


def main() -> int:
    chain = EmbeddedGateway()
    samples, sizes = asyncio.run(measure(chain))
    print("| instruction | calls | CU min | CU max | within 15,000 |")
    print("| --- | ---: | ---: | ---: | :---: |")
    worst = 0
    for ix in load_idl().raw["instructions"]:
        values = samples[ix["name"]] or [0]
        worst = max(worst, max(values))
        ok = "yes" if max(values) <= TARGET_CU else "**no**"
        print(f"| {ix['name']} | {len(values)} | {min(values):,} | {max(values):,} | {ok} |")
    print()
    print("| account | bytes | rent-exempt lamports |")
    print("| --- | ---: | ---: |")
    for name, size in {**sizes, "vault (no data)": 0}.items():
        rent = chain.svm.minimum_balance_for_rent_exemption(size)
        print(f"| {name} | {size} | {rent:,} |")
    print(f"\nworst instruction: {worst:,} CU (target ≤ {TARGET_CU:,})")
    return 0 if worst <= TARGET_CU else 1


if __name__ == "__main__":
    sys.exit(main())
