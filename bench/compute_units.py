"""Compute units per instruction, account sizes and rent, from LiteSVM.

Runs a pool's life through `client_kit.actions` on the embedded SVM: three
trainers join and submit, two are accepted and one rejected, the round is
finalized, rewards claimed, submissions closed, stakes withdrawn and the
pool closed; a second pool is cancelled. Prints Markdown tables. Target:
every instruction ≤ 15,000 CU. Keys are seeded, so the PDA bump searches (and
the figures) repeat from run to run. Run: `make bench` or `.venv/bin/python
bench/compute_units.py [--baseline OTHER.so]`; the baseline runs the same pool
life on another build in the same process and adds its CU max and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from solders.keypair import Keypair

from client_kit.accounts import Participant, Pool, Round, Submission, account_size
from client_kit.actions import operator, organization, participant
from client_kit.canonical import encode_tensors
from client_kit.enums import Reason, Verdict
from client_kit.gateway.base import TxResult
from client_kit.gateway.embedded import EmbeddedGateway
from client_kit.idl import load_idl
from client_kit.storage.local import LocalStore
from client_kit.training.data import digits_mlp_spec
from client_kit.training.task import TaskPackage, TrainingConfig

TARGET_CU = 15_000
SOL = 1_000_000_000


def seeded_keys(seed: bytes) -> Callable[[], Keypair]:
    """Keypairs from a seeded generator: the same keys, PDAs and bump searches every run."""
    rng = random.Random(seed)
    return lambda: Keypair.from_seed(rng.randbytes(32))


async def measure(chain: EmbeddedGateway) -> dict[str, list[int]]:
    """CU samples per instruction."""
    samples: dict[str, list[int]] = defaultdict(list)

    def record(name: str, tx: TxResult) -> None:
        samples[name].append(tx.compute_units)

    store = LocalStore(Path(tempfile.mkdtemp(prefix="fedstake-cu-store-")))
    task = TaskPackage.create("digits", "", digits_mlp_spec(), TrainingConfig(), seed=0)
    keys = seeded_keys(b"fedstake-cu-bench")
    org, agg, relayer = keys(), keys(), keys()
    for key in (org, agg, relayer):
        await chain.airdrop(key.pubkey(), 20 * SOL)
    terms = organization.PoolTerms(reward_per_round=SOL, max_rounds=1, max_participants=5)
    created = await organization.create_pool(
        chain, store, org, task, terms, aggregator=agg.pubkey()
    )
    pool = created.pool
    record("create_pool", created.tx)
    record("fund_pool", (await organization.fund_pool(chain, org, pool, SOL)).tx)
    trainers = [keys() for _ in range(3)]
    secrets = []
    for trainer in trainers:
        await chain.airdrop(trainer.pubkey(), 2 * SOL)
        joined = await participant.join_pool(chain, trainer, pool, SOL // 2)
        secrets.append(joined.secret)
        record("join_pool", joined.tx)
    record("start_training", await organization.start_training(chain, org, pool))
    weights = task.initial_tensors()
    for i, trainer in enumerate(trainers):
        update = {name: np.full_like(value, 0.01 * (i + 1)) for name, value in weights.items()}
        prepared = participant.prepare_update(update)
        sent = await participant.submit_update(chain, store, trainer, pool, prepared, 100)
        record("submit_update", sent.tx)
    for trainer, verdict, score, reason in (
        (trainers[0], Verdict.ACCEPTED, 6_000, Reason.OK),
        (trainers[1], Verdict.ACCEPTED, 4_000, Reason.OK),
        (trainers[2], Verdict.REJECTED, 0, Reason.NORM),
    ):
        tx = await operator.judge_submission(
            chain, agg, pool, 1, trainer.pubkey(), verdict, score, reason
        )
        record("judge_submission", tx)
    finalized = await operator.finalize_round(chain, store, agg, pool, 1, encode_tensors(weights))
    record("finalize_round", finalized.tx)
    for secret in secrets[:2]:
        record("claim_reward", (await participant.claim_reward(chain, relayer, pool, secret)).tx)
    for trainer in trainers:
        record("close_submission", await participant.close_submission(chain, trainer, pool, 1))
        record("withdraw_stake", (await participant.withdraw_stake(chain, trainer, pool)).tx)
    record("close_pool", await organization.close_pool(chain, org, pool))

    second = await organization.create_pool(chain, store, org, task, terms)
    record("cancel_pool", await organization.cancel_pool(chain, org, second.pool))
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another build of the program (.so) to run the same pool life on, for a ratio",
    )
    args = parser.parse_args(argv)
    chain = EmbeddedGateway()
    samples = asyncio.run(measure(chain))
    base = asyncio.run(measure(EmbeddedGateway(args.baseline))) if args.baseline else None
    sizes = {cls.NAME: account_size(cls) for cls in (Pool, Participant, Submission, Round)}
    extra = " | baseline CU max | ratio" if base else ""
    print(f"| instruction | calls | CU min | CU max | within 15,000{extra} |")
    print("| --- | ---: | ---: | ---: | :---:" + (" | ---: | ---: |" if base else " |"))
    worst = 0
    for ix in load_idl().raw["instructions"]:
        values = samples[ix["name"]]
        worst = max(worst, max(values))
        ok = "yes" if max(values) <= TARGET_CU else "**no**"
        row = f"| {ix['name']} | {len(values)} | {min(values):,} | {max(values):,} | {ok} |"
        if base:
            before = max(base[ix["name"]])
            row += f" {before:,} | {max(values) / before:.3f} |"
        print(row)
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
