"""Same inputs, same bytes: across runs, thread counts, workers and input order."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

from offchain.aggregation import RULES, UpdateInput, make_rule

from .conftest import make_base


def round_inputs(seed: int = 0):
    base = make_base(
        {"layer1.weight": (64, 300), "layer1.bias": (64,), "out.weight": (10, 64)}, seed
    )
    rng = np.random.default_rng(seed + 1)
    direction = {n: rng.standard_normal(v.shape).astype(np.float32) for n, v in base.items()}
    updates = [
        UpdateInput(
            f"wallet{i:02d}",
            {
                n: (0.01 * direction[n] + 0.01 * rng.standard_normal(v.shape)).astype(np.float32)
                for n, v in base.items()
            },
            int(rng.integers(5, 500)),
        )
        for i in range(12)
    ]
    reference = {n: 0.01 * v for n, v in direction.items()}
    return base, updates, reference


def fingerprint(rule: str, threads: int, workers: int, reverse: bool) -> tuple:
    base, updates, reference = round_inputs()
    if reverse:
        updates = updates[::-1]
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:  # numpy's BLAS too (geometry pins it to one thread per worker itself)
        with threadpool_limits(threads, user_api="blas"):
            judge = make_rule(rule, workers=workers, reward_policy="contribution")
            result = judge.aggregate(base, updates, reference=reference)
    finally:
        torch.set_num_threads(previous)
    return result.model_hash(), [
        (v.key, v.accepted, v.reason, v.score_bps) for v in result.verdicts
    ]


@pytest.mark.parametrize("rule", sorted(RULES))
def test_same_hash_for_any_thread_count_worker_count_and_order(rule: str) -> None:
    # Given one round, When aggregated under different execution settings
    runs = {
        (threads, workers, reverse): fingerprint(rule, threads, workers, reverse)
        for threads, workers, reverse in [(1, 1, False), (2, 1, False), (2, 2, False), (1, 2, True)]
    }
    # Then the global model hash and every verdict are identical
    assert len(set(map(repr, runs.values()))) == 1


def test_hash_is_the_same_in_fresh_processes() -> None:
    # Given the fingerprint of one run in this process
    here = fingerprint("trusted_mean", 2, 2, False)
    # When two fresh interpreters (different hash seeds, nothing cached) run it again
    code = (
        "from tests.aggregation.test_determinism import fingerprint; "
        "print(repr(fingerprint('trusted_mean', 2, 2, False)))"
    )
    root = Path(__file__).resolve().parents[2]
    runs = [
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=root,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2")
    ]
    # Then both print exactly this process's fingerprint
    assert runs == [repr(here), repr(here)]


def test_loo_scores_are_the_same_for_any_thread_and_worker_count() -> None:
    # Given a round and a float64 validation loss (squared distance to a target model)
    base, updates, reference = round_inputs(3)
    target = {n: base[n].astype(np.float64) + 0.05 * reference[n] for n in base}

    def loss(model: dict[str, np.ndarray]) -> float:
        return sum(float(np.sum((model[n] - target[n]) ** 2)) for n in sorted(model))

    def scores(threads: int, workers: int) -> list[tuple[str, str, int]]:
        with threadpool_limits(threads, user_api="blas"):
            rule = make_rule(
                "trusted_mean", reward_policy="contribution", contribution="loo", workers=workers
            )
            result = rule.aggregate(base, updates, reference=reference, validation=loss)
        return [(v.key, v.reason, v.score_bps) for v in result.verdicts]

    # When scored under different execution settings, Then the basis points are identical
    runs = [scores(1, 1), scores(2, 2), scores(1, 2)]
    assert runs[0] == runs[1] == runs[2]
    assert sum(s for _, _, s in runs[0]) == 10_000
