"""Shared machinery of the coordinate-wise rules (median, trimmed mean).

Both need, for every coordinate, the N candidate values in sorted order.
Coordinates are processed in pieces: the N rows of a piece are gathered into
a (width, N) block, sorted along the short axis (numpy's vectorized sort) and
reduced; extra memory is one block, independent of the model size. Selecting
order statistics is exact, so these rules are deterministic as long as the
reduction of the selected values is (see `trimmed_mean`).

Coordinate-wise rules do not reject anyone by construction, yet rewards and
slashing need verdicts. `agreement` judges each update by its cosine with the
robust aggregate: an update pointing away from it (cos ≤ `min_cos`) is an
`outlier`, the others are scored by their cosine.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .base import Decision, RoundContext
from .geometry import dots_with
from .layout import split_evenly
from .types import RejectReason

COORD_WIDTH = 1 << 11

Reducer = Callable[[np.ndarray], np.ndarray]  # sorted (width, N) float32 -> (width,) float64


def reduce_sorted(ctx: RoundContext, reducer: Reducer) -> list[np.ndarray]:
    """Apply `reducer` to every piece of sorted coordinate columns."""
    rows = ctx.rows
    count = len(rows)
    out = [np.zeros(size, dtype=np.float64) for size in ctx.layout.sizes]

    def run(pieces: list[tuple[int, int, int]]) -> None:
        block = np.empty((count, COORD_WIDTH), dtype=np.float32)
        columns = np.empty((COORD_WIDTH, count), dtype=np.float32)
        for tensor, start, stop in pieces:
            n = stop - start
            view, cols = block[:, :n], columns[:n]
            for i, row in enumerate(rows):
                view[i] = row[tensor][start:stop]
            np.copyto(cols, view.T)
            cols.sort(axis=1)
            out[tensor][start:stop] = reducer(cols)

    pieces = list(ctx.layout.segments(COORD_WIDTH))
    if ctx.workers > 1 and len(pieces) > 1:
        with ThreadPoolExecutor(ctx.workers) as pool:
            list(pool.map(run, split_evenly(pieces, ctx.workers)))
    else:
        run(pieces)
    return out


def agreement(ctx: RoundContext, delta: list[np.ndarray], min_cos: float) -> Decision:
    """Verdicts by cosine with the aggregate `delta` (see module docstring)."""
    target = [np.asarray(d, dtype=np.float32) for d in delta]
    target_maxabs = max((float(np.max(np.abs(t))) for t in target if t.size), default=0.0)
    if target_maxabs == 0.0:  # degenerate aggregate: nobody can be judged against it
        weights = [float(c.num_samples) for c in ctx.candidates]
        return Decision(weights, [RejectReason.OK] * len(weights), delta)
    dots, squares, target_sq = dots_with(
        ctx.layout, ctx.rows, ctx.maxabs, target, target_maxabs, ctx.workers
    )
    weights: list[float] = []
    reasons: list[RejectReason] = []
    cosines: list[float] = []
    for dot, square in zip(dots.tolist(), squares.tolist(), strict=True):
        cos = dot / math.sqrt(square * target_sq) if square > 0 else 0.0
        cosines.append(cos)
        accepted = cos > min_cos
        reasons.append(RejectReason.OK if accepted else RejectReason.OUTLIER)
        weights.append(max(cos, 0.0) if accepted else 0.0)
    return Decision(weights, reasons, delta, {"cosines": cosines})
