"""Cosine trust against the pool's reference update, in the style of FLTrust.

Cao, Fang, Liu, Gong, "FLTrust: Byzantine-robust Federated Learning via
Trust Bootstrapping", NDSS 2021.

The pool operator trains the round's base model on a small clean root
dataset and passes the resulting delta as `reference`. Each candidate gets
trust TS_i = ReLU(cos(u_i, reference)); it is rescaled to the reference's
norm, and the aggregate is Σ TS_i·(|ref|/|u_i|)·u_i / Σ TS_i (exact weighted
sum, see fixedpoint). Candidates with cos ≤ `min_trust` are excluded with
reason `trust`; scores come from the reward policy. Cosines come from the
exact geometry pass, so verdicts are reproducible.

Rescaling bounds any accepted update's influence by the reference's norm,
which is why scaling attacks gain nothing even if they pass the pre-filter.
"""

from __future__ import annotations

import math

from client_kit.enums import Reason

from .base import AggregationRule, Decision, RoundContext
from .geometry import dots_with


def trust_cosines(ctx: RoundContext) -> tuple[list[float], list[float], float]:
    """(cos(u_i, ref), |u_i|, |ref|) for every candidate."""
    assert ctx.reference is not None and ctx.reference_stats is not None
    dots, squares, ref_sq = dots_with(
        ctx.layout, ctx.rows, ctx.maxabs, ctx.reference, ctx.reference_stats.maxabs, ctx.executor
    )
    norms = [math.sqrt(s) for s in squares.tolist()]
    ref_norm = math.sqrt(ref_sq)
    cosines = [
        dot / (norm * ref_norm) if norm > 0 else 0.0
        for dot, norm in zip(dots.tolist(), norms, strict=True)
    ]
    return cosines, norms, ref_norm


class FLTrust(AggregationRule):
    name = "fltrust"
    needs_reference = True

    def __init__(self, *, min_trust: float = 0.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.min_trust = min_trust

    def decide(self, ctx: RoundContext) -> Decision:
        cosines, norms, ref_norm = trust_cosines(ctx)
        accepted = [cos > self.min_trust for cos in cosines]
        trust = [max(cos, 0.0) if ok else 0.0 for cos, ok in zip(cosines, accepted, strict=True)]
        total = math.fsum(trust)
        coeffs = [
            t * (ref_norm / norm) / total if t > 0 else 0.0
            for t, norm in zip(trust, norms, strict=True)
        ]
        model = ctx.weighted_model(coeffs) if total > 0 else ctx.base_model()
        reasons = [Reason.OK if ok else Reason.TRUST for ok in accepted]
        return Decision(reasons, model, {"cosines": cosines, "trust": trust})
