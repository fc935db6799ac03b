"""Compiled and numpy kernels give the same bits; the single read sums what a second read would."""

from __future__ import annotations

import numpy as np
import pytest

from offchain.aggregation import RULES, UpdateInput, kernels, make_rule
from offchain.aggregation.fedavg import FedAvg
from offchain.aggregation.passes import sorting_network

from .test_determinism import round_inputs

needs_numba = pytest.mark.skipif(
    "numba" not in kernels.available(), reason="numba is not installed: only numpy kernels run"
)


def fingerprint(rule: str, norm_bound: float | None, workers: int = 2) -> tuple:
    base, updates, reference = round_inputs()
    updates[3] = UpdateInput(updates[3].key, {n: -v for n, v in updates[3].tensors.items()}, 7)
    judge = make_rule(rule, workers=workers, reward_policy="contribution", norm_bound=norm_bound)
    result = judge.aggregate(base, updates, reference=reference)
    return result.model_hash(), [(v.key, v.reason, v.score_bps) for v in result.verdicts]


@needs_numba
@pytest.mark.parametrize("norm_bound", [None, 5.0])
@pytest.mark.parametrize("rule", sorted(RULES))
def test_numpy_fallback_gives_the_compiled_bits(rule: str, norm_bound: float | None) -> None:
    # Given one round with a sign-flipped update, When judged with each kernel backend
    with kernels.using("numba"):
        compiled = fingerprint(rule, norm_bound)
    with kernels.using("numpy"):
        fallback = fingerprint(rule, norm_bound, workers=1)
    # Then the model hash, every verdict and every score are identical
    assert compiled == fallback


class ReadTwice(FedAvg):
    """FedAvg that never sums during the scan: always a second read."""

    def speculate(self, weights):
        return None


@pytest.mark.parametrize("backend", kernels.available())
def test_sum_in_the_scan_equals_the_sum_read_again(backend: str) -> None:
    # Given a round under a declared bound (so the scan can sum in the same read)
    base, updates, _ = round_inputs(4)
    with kernels.using(backend):
        # When FedAvg sums in the scan, and a variant reads the updates a second time
        once = make_rule("fedavg", norm_bound=5.0, workers=2).aggregate(base, updates)
        twice = ReadTwice(norm_bound=5.0, workers=2).aggregate(base, updates)
    # Then both models are the same bytes
    assert once.model_hash() == twice.model_hash()


def test_a_slashed_update_leaves_no_trace_in_the_speculative_sum() -> None:
    # Given a round, and the same round plus one update over the bound and one with a NaN
    base, updates, _ = round_inputs(5)
    over = UpdateInput("zz-over", {n: v * 1e4 for n, v in updates[0].tensors.items()}, 9)
    nan = {n: v.copy() for n, v in updates[1].tensors.items()}
    next(iter(nan.values()))[0] = np.nan
    rule = make_rule("fedavg", norm_bound=5.0, workers=2)
    # When both are aggregated
    clean = rule.aggregate(base, updates)
    dirty = rule.aggregate(base, [*updates, over, UpdateInput("zz-nan", nan, 3)])
    # Then the two bad ones are slashed and the model is exactly the clean round's
    assert [v.reason for v in dirty.verdicts[-2:]] == ["non_finite", "norm_bound"]  # key order
    assert dirty.model_hash() == clean.model_hash()


@pytest.mark.parametrize("count", [*range(1, 34), 64, 100, 128])
def test_sorting_network_sorts_every_column(count: int) -> None:
    # Given columns with ties, ±0 and a wide spread
    rng = np.random.default_rng(count)
    block = rng.integers(-3, 4, size=(count, 37)).astype(np.float32) * np.float32(0.5)
    block[:, :5] = rng.standard_normal((count, 5)) * 1e6
    pairs = sorting_network(count)
    assert pairs.shape[1] == 2 and np.all(pairs[:, 0] < pairs[:, 1]) and np.all(pairs < count)
    # When sorted by the network (each backend), Then every column is in ascending order
    for backend in kernels.available():
        with kernels.using(backend):
            sorted_block = block.copy()
            kernels.active().network_sort(sorted_block, block.shape[1], pairs)
        assert np.array_equal(sorted_block, np.sort(block, axis=0))
