"""Shared machinery of the coordinate-wise rules (median, trimmed mean).

Both need, for every coordinate, the N candidate values in sorted order.
Coordinates are processed in pieces (`passes.coordinatewise`): the N rows of a
piece are gathered into an (N, width) block whose columns are sorted — by a
sorting network (Batcher's odd–even merge sort, vectorized across the columns)
for up to 128 updates, by numpy's sort above — and reduced, and the model
piece is written at once; extra memory is a few blocks per worker,
independent of the model size. Selecting order statistics is exact (any
correct sort gives the same values; ±0 are made +0), so these rules are
deterministic as long as the reduction of the selected values is (see
`trimmed_mean`).

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
from dataclasses import dataclass

from client_kit.enums import Reason

from .base import Decision, RoundContext
from .fixedpoint import grid_exponent
from .geometry import GRAM_BITS
from .passes import CoordinateReduction, coordinatewise


@dataclass(frozen=True)
class Agreement:
    """Exact <u_i, t>, |u_i|², |t|² of the candidates u_i and the aggregate t."""

    dots: list[float]
    squares: list[float]
    target_square: float


def reduce_sorted(ctx: RoundContext, reduction: CoordinateReduction) -> tuple[list, Agreement]:
    """Write base + the coordinate-wise aggregate into `ctx.model` and measure each
    candidate against the aggregate (see module docstring)."""
    count = len(ctx.candidates)
    exponents = [grid_exponent(m, GRAM_BITS) for m in ctx.maxabs]
    target_exponent = grid_exponent(max(ctx.maxabs), GRAM_BITS)
    exact = coordinatewise(
        ctx.executor,
        ctx.layout,
        ctx.rows,
        reduction,
        exponents,
        target_exponent,
        base=ctx.base,
        out=ctx.model,
    )
    dots = [
        math.ldexp(float(v), -e - target_exponent)
        for v, e in zip(exact[:count], exponents, strict=True)
    ]
    squares = [
        math.ldexp(float(v), -2 * e)
        for v, e in zip(exact[count : 2 * count], exponents, strict=True)
    ]
    target_square = math.ldexp(float(exact[2 * count]), -2 * target_exponent)
    return ctx.model, Agreement(dots, squares, target_square)


def agreement(ctx: RoundContext, model: list, measured: Agreement, min_cos: float) -> Decision:
    """Verdicts by cosine with the aggregate (see module docstring)."""
    if measured.target_square == 0.0:  # degenerate aggregate: nobody can be judged against it
        return Decision([Reason.OK] * len(ctx.candidates), model)
    reasons: list[Reason] = []
    cosines: list[float] = []
    for dot, square in zip(measured.dots, measured.squares, strict=True):
        cos = dot / math.sqrt(square * measured.target_square) if square > 0 else 0.0
        cosines.append(cos)
        reasons.append(Reason.OK if cos > min_cos else Reason.ROBUST_RULE)
    return Decision(reasons, model, {"cosines": cosines})
