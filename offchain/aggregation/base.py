"""The one interface every aggregation rule implements.

`AggregationRule.aggregate` is the same for all rules: sort updates by key
(the tie-break order everywhere), run the shared pre-filter (objective checks
→ Slashed, statistical screens → Excluded), cap the sample-count claims, let
the rule `decide` on the survivors (Accepted or Excluded), score the accepted
ones by the pool's reward policy, and apply the aggregated delta to the base
model. A rule only writes `decide`.

One read when it can: the pre-filter's scan (statistics of every update)
also computes the weighted sum a rule *would* take if every update were
accepted (`AggregationRule.speculate`), when a declared norm bound fixes the
sum's grid before the data is read (`fixedpoint`). The rule's
`RoundContext.weighted_model` reuses that sum when its coefficients turn out
the same and recomputes it otherwise, so the bytes are those of one function
either way. Rules write the new model into `RoundContext.model` (float32, one
update's worth of memory), never a float64 copy.

A rule's configuration is the pool's: `norm_bound` (the declared L2 bound of
an update, from the task package; None = none declared), `sample_cap` (a
claim weighs at most `sample_cap` × the median claim of the candidates),
`reward_policy` (the pool's on-chain u8) and, for the `contribution` policy,
the `contribution` measure (`contribution`).

`DEFAULT_REWARD_POLICY` is what a new pool should record when its
organization does not choose (picked from bench/results/robustness.md: the
only policy that keeps every benchmark attacker under 1/10 of an honest
share). A rule object takes the policy it is given and defaults to `equal`,
which needs no reference update.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import ClassVar

import numpy as np

from client_kit.enums import Reason, RewardPolicy
from offchain.errors import InvalidRoundInput, InvalidRule

from .contribution import (
    ContributionMeasure,
    ValidationLoss,
    loo_contributions,
    reference_alignment,
)
from .executor import Executor, as_executor
from .fixedpoint import LIMIT_SLACK, SumPlan, weighted_model
from .layout import Layout, Rows, apply_delta
from .objective import NORM_BOUND_MARGIN, check_norm_bound, shape_reason
from .prefilter import Candidate, PreFilter, Published, scan_updates
from .scoring import to_bps
from .stats import UpdateStats, update_stats
from .types import STATISTICAL_CODES, AggregationResult, Judgment, UpdateInput

DEFAULT_SAMPLE_CAP = 2.0
DEFAULT_REWARD_POLICY = RewardPolicy.CONTRIBUTION

__all__ = ["AggregationRule", "Decision", "RoundContext", "apply_delta", "capped_weights"]


@dataclass(frozen=True)
class Speculation:
    """The weighted model the scan summed before the verdicts: which updates (input
    indices, in order) with which plan (see fixedpoint)."""

    indices: tuple[int, ...]
    plan: SumPlan


@dataclass(frozen=True)
class RoundContext:
    """What a rule sees: the pre-filtered candidates, in key order.

    base: the base model's rows. model: float32 arrays (one per tensor) the rule
    writes the new model into. limit: the bound on max |x| of any accepted update
    when the pool declares a norm bound (it then fixes the sums' grids), else None.
    """

    layout: Layout
    candidates: list[Candidate]
    reference: Rows | None = None
    reference_stats: UpdateStats | None = None
    workers: int | Executor = 1
    base: Rows = field(default_factory=list)
    model: list[np.ndarray] = field(default_factory=list)
    limit: float | None = None
    speculation: Speculation | None = None

    @property
    def rows(self) -> list[Rows]:
        return [c.rows for c in self.candidates]

    @property
    def maxabs(self) -> list[float]:
        return [c.stats.maxabs for c in self.candidates]

    @property
    def executor(self) -> Executor:
        return as_executor(self.workers)

    def sum_plan(self, coeffs: Sequence[float]) -> SumPlan:
        """The grid of Σ coeffs[i]·candidate_i (bounded by the limit or by max |x|)."""
        bounds = [self.limit] * len(coeffs) if self.limit is not None else self.maxabs
        return SumPlan.of(coeffs, bounds, self.limit)

    def weighted_model(self, coeffs: Sequence[float]) -> list[np.ndarray]:
        """base + Σ coeffs[i]·candidate_i into `model` (exact fixed point): the
        speculative sum of the scan if it is this very sum, else a new read."""
        plan = self.sum_plan(coeffs)
        spec = self.speculation
        if (
            spec is not None
            and spec.indices == tuple(c.index for c in self.candidates)
            and spec.plan.same_terms(plan)
        ):
            return self.model
        return weighted_model(self.layout, self.base, self.rows, plan, self.workers, self.model)

    def base_model(self) -> list[np.ndarray]:
        """The base itself as the new model (nobody to average)."""
        for target, flat in zip(self.model, self.base, strict=True):
            target[:] = flat
        return self.model


@dataclass
class Decision:
    """A rule's output for the candidates (lists aligned with `candidates`).

    reasons: OK (accepted) or a statistical code (64..=127, excluded) — a rule
    never slashes. model: the new model per tensor (float32, layout order;
    normally `RoundContext.model`).
    """

    reasons: list[Reason]
    model: list[np.ndarray]
    details: dict[str, object] = field(default_factory=dict)


def capped_weights(claims: Sequence[int], cap_factor: float | None) -> list[int]:
    """min(claim, ⌊cap_factor × lower median claim⌋) per claim (≥ 1); claims unchanged
    if cap_factor is None. The lower median is one of the claims, so fewer than
    half the participants cannot move the cap."""
    if cap_factor is None or not claims:
        return [int(c) for c in claims]
    ordered = sorted(int(c) for c in claims)
    cap = max(1, int(cap_factor * ordered[(len(ordered) - 1) // 2]))
    return [min(int(c), cap) for c in claims]


class AggregationRule(ABC):
    """Base of every rule; see the module docstring for the pipeline.

    norm_bound: declared L2 bound (float > 0) or None. sample_cap: factor ≥ 1
    or None (claims used as given). reward_policy: "equal" | "contribution"
    (or a `client_kit.enums.RewardPolicy` / its tag). contribution: "reference" (alignment with
    the operator's reference update; needs `reference`) | "loo" (leave-one-out
    validation loss; needs `validation`). Raises `InvalidRule` on invalid
    configuration.
    """

    name: ClassVar[str]
    needs_reference: ClassVar[bool] = False

    def __init__(
        self,
        *,
        prefilter: PreFilter | None = None,
        workers: int = 1,
        norm_bound: float | None = None,
        sample_cap: float | None = DEFAULT_SAMPLE_CAP,
        reward_policy: RewardPolicy | str | int = RewardPolicy.EQUAL,
        contribution: ContributionMeasure | str = ContributionMeasure.REFERENCE,
    ) -> None:
        self.prefilter = prefilter or PreFilter()
        self.workers = workers
        self.norm_bound = check_norm_bound(norm_bound)
        if sample_cap is not None and not sample_cap >= 1.0:
            raise InvalidRule("sample_cap must be at least 1 (or None)")
        self.sample_cap = sample_cap
        self.reward_policy = RewardPolicy.parse(reward_policy)
        try:
            self.contribution = ContributionMeasure(contribution)
        except ValueError:
            raise InvalidRule(f"unknown contribution measure {contribution!r}") from None

    @abstractmethod
    def decide(self, ctx: RoundContext) -> Decision:
        """Judge and aggregate the candidates (at least one)."""

    def speculate(self, weights: Sequence[int]) -> list[float] | None:
        """The coefficients of the weighted sum this rule takes when every update is a
        candidate and accepted, given their capped claims — or None when it cannot
        be known before the data is read (then nothing is summed in the scan)."""
        return None

    def aggregate(
        self,
        base: Mapping[str, np.ndarray],
        updates: Sequence[UpdateInput],
        *,
        reference: Mapping[str, np.ndarray] | None = None,
        published: Published | None = None,
        validation: ValidationLoss | None = None,
    ) -> AggregationResult:
        """Judge one round and produce the new global model.

        base: the round's base model (float32 tensors). updates: the revealed
        submissions that passed the byte checks (any order; keys unique).
        reference: the operator's update on its root data (rules that need it).
        published: author key -> update public before this round's commitments
        closed (the previous round's accepted updates; the previous global
        delta under `prefilter.GLOBAL_DELTA`), for the `replay` test.
        validation: the operator's validation loss (the `loo` contribution).
        Raises `offchain.errors.InvalidRoundInput` (a `ValueError`) for duplicate
        keys or a missing/invalid reference or validation.
        """
        if self.reward_policy is RewardPolicy.CONTRIBUTION:
            if self.contribution is ContributionMeasure.REFERENCE and reference is None:
                raise InvalidRoundInput("the contribution reward policy needs the reference update")
            if self.contribution is ContributionMeasure.LOO and validation is None:
                raise InvalidRoundInput("the loo contribution measure needs a validation loss")
        layout = Layout.of(base)
        ordered = sorted(updates, key=lambda u: u.key)
        if len({u.key for u in ordered}) != len(ordered):
            raise InvalidRoundInput("duplicate participant keys in one round")
        ref_rows, ref_stats = self._reference(layout, reference)
        base_rows = layout.rows(base)
        model = [np.empty(size, dtype=np.float32) for size in layout.sizes]
        limit = self._limit()
        speculation = self._speculation(layout, ordered, limit)
        scanned = scan_updates(
            layout,
            ordered,
            self.workers,
            plan=speculation.plan if speculation else None,
            base=base_rows,
            out=model,
        )
        screening = self.prefilter.screen(
            layout,
            ordered,
            self.workers,
            norm_bound=self.norm_bound,
            published=published,
            scanned=scanned,
        )
        weights = capped_weights([c.num_samples for c in screening.candidates], self.sample_cap)
        candidates = [
            replace(c, weight=w) for c, w in zip(screening.candidates, weights, strict=True)
        ]
        ctx = RoundContext(
            layout,
            candidates,
            ref_rows,
            ref_stats,
            self.workers,
            base_rows,
            model,
            limit,
            speculation,
        )
        decision = self.decide(ctx) if candidates else Decision([], ctx.base_model())
        for reason in decision.reasons:
            if reason is not Reason.OK and int(reason) not in STATISTICAL_CODES:
                raise AssertionError(f"rule {self.name!r} returned non-statistical {reason!r}")
        chosen = [
            c for c, r in zip(candidates, decision.reasons, strict=True) if r is Reason.OK
        ]
        details: dict[str, object] = {
            "median_norm": screening.median_norm,
            "replay_cosines": screening.replay_cosines,
            "weights": {c.key: c.weight for c in candidates},
            **decision.details,
        }
        scores = self._score(layout, base, chosen, ref_rows, ref_stats, validation, details)
        verdicts: list[Judgment] = []
        judged = dict(zip([c.index for c in candidates], decision.reasons, strict=True))
        for index, update in enumerate(ordered):
            reason = screening.rejected[index] if index in screening.rejected else judged[index]
            verdicts.append(Judgment(update.key, reason, scores.get(update.key, 0)))
        new_model = layout.tensors(decision.model)
        return AggregationResult(self.name, verdicts, new_model, details, self.reward_policy)

    def _score(
        self,
        layout: Layout,
        base: Mapping[str, np.ndarray],
        chosen: list[Candidate],
        ref_rows: Rows | None,
        ref_stats: UpdateStats | None,
        validation: ValidationLoss | None,
        details: dict[str, object],
    ) -> dict[str, int]:
        """Basis points of the accepted candidates under the reward policy."""
        rows, maxabs = [c.rows for c in chosen], [c.stats.maxabs for c in chosen]
        if self.reward_policy is RewardPolicy.EQUAL or not chosen:
            values = [1.0] * len(chosen)
        elif self.contribution is ContributionMeasure.REFERENCE:
            assert ref_rows is not None and ref_stats is not None
            values = reference_alignment(
                layout, rows, maxabs, ref_rows, ref_stats.maxabs, self.workers
            )
        else:
            assert validation is not None
            values, loss = loo_contributions(layout, base, rows, maxabs, validation, self.workers)
            details["validation_loss"] = loss
        if self.reward_policy is RewardPolicy.CONTRIBUTION:
            details["contributions"] = dict(zip([c.key for c in chosen], values, strict=True))
        return dict(zip([c.key for c in chosen], to_bps(values), strict=True))

    def _limit(self) -> float | None:
        """max |x| of any update within the declared bound (None: no bound)."""
        if self.norm_bound is None:
            return None
        return self.norm_bound * (1.0 + NORM_BOUND_MARGIN) * (1.0 + LIMIT_SLACK)

    def _speculation(
        self, layout: Layout, ordered: Sequence[UpdateInput], limit: float | None
    ) -> Speculation | None:
        """The sum to take during the scan, if the grid and coefficients are known."""
        if limit is None:
            return None
        indices = tuple(
            i for i, u in enumerate(ordered) if shape_reason(layout, u) is Reason.OK
        )
        if not indices:
            return None
        weights = capped_weights([ordered[i].num_samples for i in indices], self.sample_cap)
        coeffs = self.speculate(weights)
        if coeffs is None:
            return None
        return Speculation(indices, SumPlan.of(coeffs, [limit] * len(coeffs), limit))

    def _reference(
        self, layout: Layout, reference: Mapping[str, np.ndarray] | None
    ) -> tuple[Rows | None, UpdateStats | None]:
        if reference is None:
            if self.needs_reference:
                raise InvalidRoundInput(f"rule {self.name!r} needs the pool's reference update")
            return None, None
        reason = shape_reason(layout, UpdateInput("reference", reference, 1))
        if reason is not Reason.OK:
            raise InvalidRoundInput(f"reference update is invalid: {reason.code}")
        rows = layout.rows(reference)
        stats = update_stats(rows)
        if not stats.finite or stats.norm == 0.0:
            raise InvalidRoundInput("reference update must be finite and non-zero")
        return rows, stats


def sample_coefficients(candidates: Sequence[Candidate], chosen: Sequence[bool]) -> list[float]:
    """weight_i / Σ weight over the chosen candidates (0 for the others); weights
    are the capped claims."""
    return weight_coefficients([c.weight for c in candidates], chosen)


def weight_coefficients(weights: Sequence[int], chosen: Sequence[bool]) -> list[float]:
    """weights[i] / Σ chosen weights for the chosen, 0 for the others (an integer
    total, then one correctly rounded division each)."""
    total = sum(w for w, keep in zip(weights, chosen, strict=True) if keep)
    return [w / total if keep else 0.0 for w, keep in zip(weights, chosen, strict=True)]
