"""Exact fixed-point sums: integer terms added exactly, results are order-free."""

from __future__ import annotations

import math

import numpy as np
import pytest

from offchain.aggregation.fixedpoint import SUM_BITS, SumPlan, ceil_log2, weighted_sum
from offchain.aggregation.layout import Layout


@pytest.mark.parametrize("seed", [0, 1])
def test_terms_are_integers_added_exactly_up_to_the_top_of_the_grid(seed: int) -> None:
    # Given rows at very different scales, with their coordinates' extremes at max |x|
    rng = np.random.default_rng(seed)
    layout = Layout.of({"w": np.zeros(2000, np.float32)})
    rows = [
        [(rng.standard_normal(2000) * 10.0 ** rng.integers(-3, 3)).astype(np.float32)]
        for _ in range(6)
    ]
    coeffs = (rng.random(6) - 0.3).tolist()
    maxabs = [float(np.abs(r[0]).max()) for r in rows]
    plan = SumPlan.of(coeffs, maxabs)
    # When summed on the plan's grid
    result = weighted_sum(layout, rows, coeffs, maxabs)[0]
    # Then every coordinate is the exact integer sum of rint(x·a·2^G), scaled by 2^-G
    terms = [
        [int(v) for v in np.rint(r[0].astype(np.float64) * s)]
        for r, s in zip(rows, plan.scales.tolist(), strict=True)
    ]
    exact = [sum(column) for column in zip(*terms, strict=True)]
    assert [math.ldexp(float(v), -plan.grid) for v in exact] == result.tolist()
    # And the grid uses the float64 budget: the largest possible total is near 2^52
    budget = sum(abs(a) * m for a, m in zip(coeffs, maxabs, strict=True)) * 2.0**plan.grid
    assert 2.0 ** (SUM_BITS - 1) <= budget < 2.0**SUM_BITS


@pytest.mark.parametrize(
    ("x", "expected"), [(1.0, 1), (0.75, 0), (3.0, 2), (4.0, 3), (1e-30, -99), (1e300, 997)]
)
def test_ceil_log2_is_smallest_exponent_above(x: float, expected: int) -> None:
    assert ceil_log2(x) == expected
    assert x < 2.0**expected


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("count", [1, 3, 10])
def test_weighted_sum_matches_float64_oracle(seed: int, count: int) -> None:
    rng = np.random.default_rng(seed)
    base = {"a": np.zeros((5, 7), np.float32), "b": np.zeros(300, np.float32)}
    layout = Layout.of(base)
    rows = [
        [
            (rng.standard_normal(s) * 10.0 ** rng.integers(-3, 2)).astype(np.float32)
            for s in layout.sizes
        ]
        for _ in range(count)
    ]
    coeffs = rng.random(count).tolist()
    maxabs = [max(float(np.max(np.abs(t))) for t in row) for row in rows]
    result = weighted_sum(layout, rows, coeffs, maxabs, chunk=64)
    for t in range(len(layout.sizes)):
        oracle = sum(c * row[t].astype(np.float64) for c, row in zip(coeffs, rows, strict=True))
        scale = max(abs(c) * m for c, m in zip(coeffs, maxabs, strict=True))
        np.testing.assert_allclose(result[t], oracle, rtol=0, atol=scale * count * 2.0**-21)


def test_weighted_sum_is_independent_of_order_chunking_and_threads() -> None:
    rng = np.random.default_rng(5)
    layout = Layout.of({"w": np.zeros(10_000, np.float32)})
    rows = [[rng.standard_normal(10_000).astype(np.float32)] for _ in range(9)]
    coeffs = (rng.random(9) / 9).tolist()
    maxabs = [float(np.max(np.abs(r[0]))) for r in rows]
    reference = weighted_sum(layout, rows, coeffs, maxabs)[0].tobytes()
    order = rng.permutation(9)
    permuted = weighted_sum(
        layout,
        [rows[i] for i in order],
        [coeffs[i] for i in order],
        [maxabs[i] for i in order],
        chunk=777,
        workers=2,
    )[0].tobytes()
    assert permuted == reference
