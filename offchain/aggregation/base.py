"""The one interface every aggregation rule implements.

`AggregationRule.aggregate` is the same for all rules: sort updates by key
(the tie-break order everywhere), run the shared pre-filter, let the rule
`decide` on the survivors, turn its raw weights into basis points, and apply
the aggregated delta to the base model. A rule only writes `decide`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from client_kit.enums import Reason
from offchain.errors import InvalidRoundInput

from .layout import Layout, Rows
from .prefilter import Candidate, PreFilter, _shape_reason
from .scoring import to_bps
from .stats import UpdateStats, update_stats
from .types import AggregationResult, Judgment, Tensors, UpdateInput


@dataclass(frozen=True)
class RoundContext:
    """What a rule sees: the pre-filtered candidates, in key order."""

    layout: Layout
    candidates: list[Candidate]
    reference: Rows | None = None
    reference_stats: UpdateStats | None = None
    workers: int = 1

    @property
    def rows(self) -> list[Rows]:
        return [c.rows for c in self.candidates]

    @property
    def maxabs(self) -> list[float]:
        return [c.stats.maxabs for c in self.candidates]


@dataclass
class Decision:
    """A rule's output for the candidates (lists aligned with `candidates`)."""

    weights: list[float]  # raw reward weight of each accepted candidate (≥ 0)
    reasons: list[Reason]  # OK for accepted
    delta: list[np.ndarray]  # aggregated delta per tensor, float64
    details: dict[str, object] = field(default_factory=dict)


class AggregationRule(ABC):
    name: ClassVar[str]
    needs_reference: ClassVar[bool] = False

    def __init__(self, *, prefilter: PreFilter | None = None, workers: int = 1) -> None:
        self.prefilter = prefilter or PreFilter()
        self.workers = workers

    @abstractmethod
    def decide(self, ctx: RoundContext) -> Decision:
        """Judge and aggregate the candidates (at least one)."""

    def aggregate(
        self,
        base: Mapping[str, np.ndarray],
        updates: Sequence[UpdateInput],
        *,
        reference: Mapping[str, np.ndarray] | None = None,
    ) -> AggregationResult:
        layout = Layout.of(base)
        ordered = sorted(updates, key=lambda u: u.key)
        if len({u.key for u in ordered}) != len(ordered):
            raise InvalidRoundInput("duplicate participant keys in one round")
        ref_rows, ref_stats = self._reference(layout, reference)
        screening = self.prefilter.screen(layout, ordered, self.workers)
        candidates = screening.candidates
        if candidates:
            ctx = RoundContext(layout, candidates, ref_rows, ref_stats, self.workers)
            decision = self.decide(ctx)
        else:
            decision = Decision([], [], [np.zeros(s) for s in layout.sizes])
        accepted_weights = [
            w if r is Reason.OK else 0.0
            for w, r in zip(decision.weights, decision.reasons, strict=True)
        ]
        points = to_bps(accepted_weights)
        judged: dict[int, tuple[Reason, int]] = {
            c.index: (r, p) for c, r, p in zip(candidates, decision.reasons, points, strict=True)
        }
        verdicts: list[Judgment] = []
        for index, update in enumerate(ordered):
            if index in screening.rejected:
                verdicts.append(Judgment(update.key, False, screening.rejected[index].code, 0))
            else:
                reason, score = judged[index]
                verdicts.append(Judgment(update.key, reason is Reason.OK, reason.code, score))
        details = {"median_norm": screening.median_norm, **decision.details}
        return AggregationResult(
            self.name, verdicts, apply_delta(layout, base, decision.delta), details
        )

    def _reference(
        self, layout: Layout, reference: Mapping[str, np.ndarray] | None
    ) -> tuple[Rows | None, UpdateStats | None]:
        if reference is None:
            if self.needs_reference:
                raise InvalidRoundInput(f"rule {self.name!r} needs the pool's reference update")
            return None, None
        reason = _shape_reason(layout, UpdateInput("reference", reference, 1))
        if reason is not Reason.OK:
            raise InvalidRoundInput(f"reference update is invalid: {reason.code}")
        rows = layout.rows(reference)
        stats = update_stats(rows)
        if not stats.finite or stats.norm == 0.0:
            raise InvalidRoundInput("reference update must be finite and non-zero")
        return rows, stats


def apply_delta(layout: Layout, base: Mapping[str, np.ndarray], delta: list[np.ndarray]) -> Tensors:
    """base + delta, added in float64 and rounded once to float32."""
    flats = [
        (np.asarray(base[name], dtype=np.float64).reshape(-1) + change).astype(np.float32)
        for name, change in zip(layout.names, delta, strict=True)
    ]
    return layout.tensors(flats)


def sample_coefficients(candidates: Sequence[Candidate], chosen: Sequence[bool]) -> list[float]:
    """num_samples_i / Σ num_samples over the chosen candidates (0 for the others)."""
    total = sum(c.num_samples for c, keep in zip(candidates, chosen, strict=True) if keep)
    return [
        c.num_samples / total if keep else 0.0 for c, keep in zip(candidates, chosen, strict=True)
    ]
