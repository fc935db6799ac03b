"""Exact fixed-point sums: rounding matches np.rint, results are order-free."""

from __future__ import annotations

import numpy as np
import pytest

from offchain.aggregation.fixedpoint import MAGIC, MAGIC_BITS, ceil_log2, weighted_sum
from offchain.aggregation.layout import Layout


@pytest.mark.parametrize(
    "value",
    [0.0, -0.0, 0.5, 1.5, 2.5, -0.5, -1.5, 0.49999997, 1234.5, -4194303.5, 4194304.0, -4194304.0],
)
def test_magic_rounding_equals_rint(value: float) -> None:
    # Given a float32 within ±2^22, When rounded with the magic add, Then it equals np.rint
    x = np.array([value], dtype=np.float32)
    bits = (x + MAGIC).view(np.int32)[0] - MAGIC_BITS
    assert bits == np.rint(x)[0]


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
