"""Per-update statistics: the one pass every rule starts with.

For each update: is every value finite, its largest absolute value (which
fixes the fixed-point grids of later passes) and its L2 norm (for the norm
pre-filter). max |value| is exact. The norm is computed exactly on a grid:
each piece of `STATS_CHUNK` coordinates is scaled by a power of two so its
largest value is below 2^15, rounded to integers, and its sum of squares
taken in float64 (exact: < 2^52); the pieces are then added in layout order.
So the norm is a deterministic function of the update and `STATS_CHUNK`,
which is therefore part of the method and must not change.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .fixedpoint import grid_exponent
from .layout import Rows

STATS_CHUNK = 1 << 16
NORM_BITS = 15


@dataclass(frozen=True)
class UpdateStats:
    finite: bool
    maxabs: float
    norm: float


def update_stats(row: Rows) -> UpdateStats:
    """Finiteness, max |value| and L2 norm of one update (see module docstring)."""
    maxabs = 0.0
    sumsq = 0.0
    scratch = np.empty(STATS_CHUNK, dtype=np.float32)
    squares = np.empty(STATS_CHUNK, dtype=np.float64)
    for flat in row:
        for start in range(0, flat.size, STATS_CHUNK):
            piece = flat[start : start + STATS_CHUNK]
            tmp, wide = scratch[: piece.size], squares[: piece.size]
            # |x| is enough: rint is symmetric, so rint(|x|·2^e)² = rint(x·2^e)²
            np.abs(piece, out=tmp)
            local = float(tmp.max())  # NaN and ±Inf propagate
            if not math.isfinite(local):
                return UpdateStats(False, math.inf, math.inf)
            if local == 0.0:
                continue
            maxabs = max(maxabs, local)
            exponent = grid_exponent(local, NORM_BITS)
            np.multiply(tmp, np.float32(math.ldexp(1.0, exponent)), out=tmp)
            np.rint(tmp, out=tmp)
            np.square(tmp, out=wide, dtype=np.float64)  # integers < 2^30: exact
            # not np.dot: BLAS threads stall on tiny calls
            sumsq += math.ldexp(float(wide.sum()), -2 * exponent)
    return UpdateStats(True, maxabs, math.sqrt(sumsq))


def all_stats(rows: Sequence[Rows], workers: int = 1) -> list[UpdateStats]:
    """`update_stats` for every update (threads over updates; order kept)."""
    if workers > 1 and len(rows) > 1:
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(update_stats, rows))
    return [update_stats(row) for row in rows]
