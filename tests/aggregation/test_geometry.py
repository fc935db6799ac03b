"""Exact geometry: the Gram matrices equal an integer oracle for any thread split."""

from __future__ import annotations

import math

import numpy as np
import pytest

from offchain.aggregation.fixedpoint import grid_exponent
from offchain.aggregation.geometry import COARSE_BITS, coarse_gram, dots_with, gram
from offchain.aggregation.layout import Layout


def rounded(row: list[np.ndarray], maxabs: float, bits: int) -> tuple[np.ndarray, int]:
    exponent = grid_exponent(maxabs, bits)
    flat = np.concatenate(row).astype(np.float64)
    return np.rint(flat * math.ldexp(1.0, exponent)), exponent


def oracle(rows: list[list[np.ndarray]], maxabs: list[float], bits: int) -> np.ndarray:
    pairs = [rounded(r, m, bits) for r, m in zip(rows, maxabs, strict=True)]
    ints = np.array([q for q, _ in pairs], dtype=object)  # Python ints: no rounding at all
    exps = [e for _, e in pairs]
    out = np.empty((len(rows), len(rows)))
    for i in range(len(rows)):
        for j in range(len(rows)):
            exact = sum(int(a) * int(b) for a, b in zip(ints[i], ints[j], strict=True))
            out[i, j] = math.ldexp(float(exact), -exps[i] - exps[j])
    return out


@pytest.mark.parametrize("seed", [0, 1])
def test_coarse_gram_is_exact_gram_of_8bit_rows_for_any_worker_count(seed: int) -> None:
    # Given rows over three tensors (one piece not a multiple of 1024), very different scales
    rng = np.random.default_rng(seed)
    layout = Layout.of({"a": np.zeros(3000, np.float32), "b": np.zeros(17, np.float32)})
    rows = [
        [
            (rng.standard_normal(s) * 10.0 ** rng.integers(-4, 3)).astype(np.float32)
            for s in layout.sizes
        ]
        for _ in range(5)
    ]
    maxabs = [max(float(np.abs(t).max()) for t in row) for row in rows]
    # When the coarse Gram matrix is computed with 1 and 2 workers
    one = coarse_gram(layout, rows, maxabs, 1)
    two = coarse_gram(layout, rows, maxabs, 2)
    # Then both equal the exact integer Gram matrix of the 8-bit-rounded rows, bit for bit
    assert np.array_equal(one, two)
    assert np.array_equal(one, oracle(rows, maxabs, COARSE_BITS))


def test_coarse_gram_exact_at_the_largest_partial_sums() -> None:
    # Given rows whose rounded values are all ±128 (products 2^14, 1024 per group: sums 2^24)
    layout = Layout.of({"w": np.zeros(4096, np.float32)})
    top = np.full(4096, 127.75, np.float32)  # maxabs < 2^7, so no scaling; rint → 128
    rows = [[top], [-top], [top.copy()]]
    result = coarse_gram(layout, rows, [127.75] * 3)
    assert result[0, 0] == 4096 * 128**2
    assert result[0, 1] == -(4096 * 128**2)
    assert np.array_equal(result, oracle(rows, [127.75] * 3, COARSE_BITS))


def test_fine_gram_matches_oracle() -> None:
    rng = np.random.default_rng(5)
    layout = Layout.of({"w": np.zeros(500, np.float32)})
    rows = [[rng.standard_normal(500).astype(np.float32)] for _ in range(3)]
    maxabs = [float(np.abs(r[0]).max()) for r in rows]
    assert np.array_equal(gram(layout, rows, maxabs), oracle(rows, maxabs, 15))


def test_fine_geometry_is_the_same_for_any_worker_count() -> None:
    # Given rows spanning many pieces (width 2^18 for 4 rows) over two tensors
    rng = np.random.default_rng(6)
    layout = Layout.of({"a": np.zeros(600_000, np.float32), "b": np.zeros(33, np.float32)})
    rows = [[rng.standard_normal(s).astype(np.float32) for s in layout.sizes] for _ in range(3)]
    target = [rng.standard_normal(s).astype(np.float32) for s in layout.sizes]
    maxabs = [max(float(np.abs(t).max()) for t in row) for row in rows]
    target_max = max(float(np.abs(t).max()) for t in target)
    # When computed with 1 and 2 workers, Then every value is bit-identical
    assert np.array_equal(gram(layout, rows, maxabs, 1), gram(layout, rows, maxabs, 2))
    one = dots_with(layout, rows, maxabs, target, target_max, 1)
    two = dots_with(layout, rows, maxabs, target, target_max, 2)
    assert np.array_equal(one[0], two[0]) and np.array_equal(one[1], two[1])
    assert one[2] == two[2]
    # And the squares agree with the diagonal of the Gram matrix on the same grids
    assert np.array_equal(one[1], np.diag(gram(layout, rows, maxabs)))


@pytest.mark.parametrize("rule", ["median", "trimmed_mean"])
def test_coordinatewise_cosines_match_float64_and_any_worker_count(rule: str) -> None:
    # Given 9 updates spread over two tensors and several pieces
    from offchain.aggregation import UpdateInput, make_rule

    rng = np.random.default_rng(8)
    base = {"a": np.zeros(5000, np.float32), "b": np.zeros(7, np.float32)}
    shared = {n: rng.standard_normal(v.size).astype(np.float32) for n, v in base.items()}
    updates = [
        UpdateInput(
            f"k{i}",
            {
                n: (s * (1 if i else -1) + rng.standard_normal(s.size)).astype(np.float32)
                for n, s in shared.items()
            },
            5,
        )
        for i in range(9)
    ]
    # When aggregated with 1 and 2 workers
    one = make_rule(rule, workers=1).aggregate(base, updates)
    two = make_rule(rule, workers=2).aggregate(base, updates)
    # Then the cosines are bit-identical, close to float64 ones, and the flipped one is an outlier
    assert one.details["cosines"] == two.details["cosines"]
    target = np.concatenate([one.global_model[n] for n in sorted(base)]).astype(np.float64)
    for update, cos in zip(updates, one.details["cosines"], strict=True):
        flat = np.concatenate([update.tensors[n] for n in sorted(base)]).astype(np.float64)
        expected = flat @ target / np.linalg.norm(flat) / np.linalg.norm(target)
        assert abs(cos - expected) < 1e-3
    assert one.verdicts[0].reason == "robust_rule"


def lane_norm_oracle(row: list[np.ndarray], piece: int, lanes: int) -> float:
    """The documented norm, written with Python floats: per piece of each tensor,
    lane j sums squares of coordinates ≡ j (mod lanes) in order, lanes fold
    pairwise, pieces are added with math.fsum."""
    values = []
    for flat in row:
        for start in range(0, flat.size, piece):
            squares = [float(v) * float(v) for v in flat[start : start + piece].tolist()]
            lane = [0.0] * lanes
            for k, square in enumerate(squares):
                lane[k % lanes] += square
            width = lanes
            while width > 1:
                width //= 2
                for j in range(width):
                    lane[j] += lane[j + width]
            values.append(lane[0])
    return math.sqrt(math.fsum(values))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_update_stats_norm_is_the_documented_lane_sum(bad: float) -> None:
    from offchain.aggregation.kernels.compiled import NORM_LANES
    from offchain.aggregation.passes import SCAN_CHUNK
    from offchain.aggregation.stats import update_stats

    # Given a row over two tensors, one piece not a multiple of the lanes, values spread
    # over 12 orders of magnitude (so the order of additions matters)
    rng = np.random.default_rng(9)
    row = [
        (rng.standard_normal(SCAN_CHUNK + 4000) * 10.0 ** rng.integers(-6, 6, SCAN_CHUNK + 4000))
        .astype(np.float32),
        np.zeros(10, np.float32),
    ]
    row[0][:100] *= -30.0
    # When its statistics are computed, Then they are the documented values, bit for bit
    stats = update_stats(row)
    assert stats.finite and stats.maxabs == float(np.abs(row[0]).max())
    assert stats.norm == lane_norm_oracle(row, SCAN_CHUNK, NORM_LANES)
    assert stats.norm == pytest.approx(float(np.linalg.norm(row[0].astype(np.float64))), rel=1e-13)
    # And one NaN or ±Inf anywhere makes the update non-finite
    row[0][SCAN_CHUNK + 5] = bad
    assert not update_stats(row).finite
