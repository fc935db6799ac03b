"""Shared machinery of the coordinate-wise rules (median, trimmed mean).

Both need, for every coordinate, the N candidate values in sorted order.
Coordinates are processed in pieces: the N rows of a piece are gathered into
a (N, width) block, transposed to (width, N), sorted along the short axis
(numpy's vectorized sort) and reduced; extra memory is a few blocks per
worker, independent of the model size. Selecting order statistics is exact,
so these rules are deterministic as long as the reduction of the selected
values is (see `trimmed_mean`).

Coordinate-wise rules do not reject anyone by construction, yet rewards
need verdicts. `agreement` judges each update by its cosine with the robust
aggregate: an update pointing away from it (cos ≤ `min_cos`) is excluded
with reason `robust_rule`; the others are accepted.

The cosines are computed in the same pass, on the block already gathered
for the sort (one read of every update instead of two), with exact integer
dot products as in geometry: each update on its own 2^15 grid
(`GRAM_BITS`, fixed by its max |value|), the aggregate (as float32) on the
grid fixed by the largest max |value| of all candidates — a bound known
before the pass, since a median or trimmed mean of values never exceeds
their largest magnitude. Per piece the products are float64 matrix-vector
products of integers below 2^53 (exact in any order) accumulated in int64,
so the split over workers changes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from client_kit.enums import Reason

from .base import Decision, RoundContext
from .fixedpoint import grid_exponent
from .geometry import GRAM_BITS
from .layout import split_evenly

COORD_WIDTH = 1 << 11  # ≤ 2^22 coordinates per piece keeps int products < 2^53

Reducer = Callable[[np.ndarray], np.ndarray]  # sorted (width, N) float32 -> (width,) float64


@dataclass(frozen=True)
class Agreement:
    """Exact <u_i, t>, |u_i|², |t|² of the candidates u_i and the aggregate t."""

    dots: list[float]
    squares: list[float]
    target_square: float


def reduce_sorted(ctx: RoundContext, reducer: Reducer) -> tuple[list[np.ndarray], Agreement]:
    """Apply `reducer` to every piece of sorted coordinate columns, and measure
    each candidate against the result (see module docstring)."""
    rows = ctx.rows
    count = len(rows)
    out = [np.zeros(size, dtype=np.float64) for size in ctx.layout.sizes]
    exponents = [grid_exponent(m, GRAM_BITS) for m in ctx.maxabs]
    target_exponent = grid_exponent(max(ctx.maxabs), GRAM_BITS)
    scales = np.array([math.ldexp(1.0, e) for e in exponents], dtype=np.float32)[:, None]
    target_scale = np.float32(math.ldexp(1.0, target_exponent))

    def run(pieces: list[tuple[int, int, int]]) -> np.ndarray:
        block = np.empty((count, COORD_WIDTH), dtype=np.float32)
        columns = np.empty((COORD_WIDTH, count), dtype=np.float32)
        target = np.empty(COORD_WIDTH, dtype=np.float32)
        exact = np.zeros(2 * count + 1, dtype=np.int64)  # dots, squares, |t|²
        for tensor, start, stop in pieces:
            n = stop - start
            view, cols, tview = block[:, :n], columns[:n], target[:n]
            for i, row in enumerate(rows):
                view[i] = row[tensor][start:stop]
            np.copyto(cols, view.T)
            cols.sort(axis=1)
            result = reducer(cols)
            out[tensor][start:stop] = result
            np.copyto(tview, result, casting="same_kind")  # the aggregate as float32
            np.multiply(tview, target_scale, out=tview)
            np.rint(tview, out=tview)
            np.multiply(view, scales, out=view)
            np.rint(view, out=view)
            wide = view.astype(np.float64)
            twide = tview.astype(np.float64)
            exact[:count] += (wide @ twide).astype(np.int64)
            exact[count : 2 * count] += np.einsum("ij,ij->i", wide, wide).astype(np.int64)
            exact[2 * count] += int(twide @ twide)
        return exact

    pieces = list(ctx.layout.segments(COORD_WIDTH))
    with threadpool_limits(1, user_api="blas"):  # tiny products: BLAS threads only spin
        if ctx.workers > 1 and len(pieces) > 1:
            with ThreadPoolExecutor(ctx.workers) as pool:
                parts = list(pool.map(run, split_evenly(pieces, ctx.workers)))
        else:
            parts = [run(pieces)]
    exact = sum(parts[1:], parts[0])  # int64: exact in any order
    dots = [
        math.ldexp(float(v), -e - target_exponent)
        for v, e in zip(exact[:count], exponents, strict=True)
    ]
    squares = [
        math.ldexp(float(v), -2 * e)
        for v, e in zip(exact[count : 2 * count], exponents, strict=True)
    ]
    target_square = math.ldexp(float(exact[2 * count]), -2 * target_exponent)
    return out, Agreement(dots, squares, target_square)


def agreement(
    ctx: RoundContext, delta: list[np.ndarray], measured: Agreement, min_cos: float
) -> Decision:
    """Verdicts by cosine with the aggregate `delta` (see module docstring)."""
    if measured.target_square == 0.0:  # degenerate aggregate: nobody can be judged against it
        return Decision([Reason.OK] * len(ctx.candidates), delta)
    reasons: list[Reason] = []
    cosines: list[float] = []
    for dot, square in zip(measured.dots, measured.squares, strict=True):
        cos = dot / math.sqrt(square * measured.target_square) if square > 0 else 0.0
        cosines.append(cos)
        reasons.append(Reason.OK if cos > min_cos else Reason.ROBUST_RULE)
    return Decision(reasons, delta, {"cosines": cosines})
