"""Validity and norm pre-filter shared by every rule.

Runs before any robust rule so that malformed or wildly scaled updates can
neither crash a rule nor dominate its geometry, and so that each rejection
carries a precise reason on chain (`client_kit.enums.Reason`). In order:

1. `malformed`    num_samples must be a positive integer (objective).
2. `shape`        the same tensor names and shapes as the base model, every
                  tensor float32 (objective).
3. `non_finite`   every value finite (objective).
4. `free_rider`   an all-zero update (the base model sent back), or a norm
                  below `min_ratio` × the median norm of the round (statistical).
5. `norm_outlier` a norm above `max_ratio` × the median norm (scaling / model
                  replacement; statistical). The median is taken over the
                  non-zero updates that passed 1–3 (lower median, so it is one
                  of the norms), which keeps it honest while fewer than half
                  the updates are attacks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from client_kit.enums import Reason

from .layout import Layout, Rows
from .stats import UpdateStats, all_stats
from .types import UpdateInput


@dataclass(frozen=True)
class Candidate:
    """An update that passed the pre-filter, in key order."""

    index: int  # position in the key-sorted input
    key: str
    rows: Rows
    num_samples: int
    stats: UpdateStats


@dataclass(frozen=True)
class Screening:
    candidates: list[Candidate]
    rejected: dict[int, Reason]  # index in key-sorted input -> reason
    median_norm: float


@dataclass(frozen=True)
class PreFilter:
    max_ratio: float = 4.0
    min_ratio: float = 0.05

    def screen(self, layout: Layout, updates: Sequence[UpdateInput], workers: int = 1) -> Screening:
        rejected: dict[int, Reason] = {}
        valid: list[tuple[int, Rows]] = []
        for index, update in enumerate(updates):
            reason = _shape_reason(layout, update)
            if reason is not Reason.OK:
                rejected[index] = reason
                continue
            valid.append((index, layout.rows(update.tensors)))
        stats = all_stats([rows for _, rows in valid], workers)
        finite: list[tuple[int, Rows, UpdateStats]] = []
        for (index, rows), stat in zip(valid, stats, strict=True):
            if not stat.finite:
                rejected[index] = Reason.NON_FINITE
            elif stat.norm == 0.0:
                rejected[index] = Reason.FREE_RIDER
            else:
                finite.append((index, rows, stat))
        norms = sorted(stat.norm for _, _, stat in finite)
        median = norms[(len(norms) - 1) // 2] if norms else 0.0
        candidates: list[Candidate] = []
        for index, rows, stat in finite:
            if stat.norm > self.max_ratio * median:
                rejected[index] = Reason.NORM_OUTLIER
            elif stat.norm < self.min_ratio * median:
                rejected[index] = Reason.FREE_RIDER
            else:
                update = updates[index]
                candidates.append(Candidate(index, update.key, rows, update.num_samples, stat))
        return Screening(candidates, rejected, median)


def _shape_reason(layout: Layout, update: UpdateInput) -> Reason:
    samples = update.num_samples
    if isinstance(samples, bool) or not isinstance(samples, int | np.integer) or samples <= 0:
        return Reason.MALFORMED
    tensors = update.tensors
    if set(tensors) != set(layout.names):
        return Reason.SHAPE
    for name, shape in zip(layout.names, layout.shapes, strict=True):
        value = tensors[name]
        if tuple(np.shape(value)) != shape:
            return Reason.SHAPE
    for name in layout.names:
        if np.asarray(tensors[name]).dtype != np.float32:
            return Reason.SHAPE
    return Reason.OK
