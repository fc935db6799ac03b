"""Per-update statistics: the one pass every rule starts with.

For each update: is every value finite, its largest absolute value (which
fixes the fixed-point grids of later passes) and its L2 norm (for the norm
pre-filter and the declared bound). max |value| is exact; the norm is a
float64 sum in an order fixed by the method (see `passes` for the exact
definition), so it is the same bits on any machine and for any thread count.
`passes.scan` computes all three in one read of each update, together with the
weighted sum when its grid is known in advance.
"""

from __future__ import annotations

from collections.abc import Sequence

from .executor import Executor, as_executor
from .layout import Layout, Rows
from .passes import UpdateStats, scan

__all__ = ["UpdateStats", "all_stats", "update_stats"]


def _layout_of(row: Rows) -> Layout:
    return Layout(tuple(str(i) for i in range(len(row))), tuple((flat.size,) for flat in row))


def update_stats(row: Rows) -> UpdateStats:
    """Finiteness, max |value| and L2 norm of one update (1-D float32 per tensor)."""
    return scan(as_executor(1), _layout_of(row), [row])[0]


def all_stats(rows: Sequence[Rows], workers: int | Executor = 1) -> list[UpdateStats]:
    """`update_stats` for every update (updates of one layout), in one pass."""
    if not rows:
        return []
    return scan(as_executor(workers), _layout_of(rows[0]), rows)
