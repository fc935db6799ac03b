"""Trusted mean: exclude what the evidence says is an attack, FedAvg the rest.

The default rule. It combines FLTrust's anchor with a subspace test and then
averages like FedAvg, so that without attacks it *is* FedAvg with the capped
weights, bit for bit (same model quality; tests/aggregation/test_oracle.py)
and with attacks the bad updates are excluded instead of merely
down-weighted — which matters here because verdicts decide rewards, not
just the model.

After the shared pre-filter (objective checks, scaling, free-riding, replays), one exact Gram
matrix of the candidates plus the pool's reference update (see geometry)
gives two tests:

1. Direction (`trust`): an update is excluded if it points clearly away
   from the operator's root-data reference *and* from its peers —
   cos(u_i, reference) < −`sigmas`/√d and cos(u_i, Σ_{j≠i} u_j) <
   −`peer_sigmas`/√d — or very clearly away from the reference alone,
   cos(u_i, reference) < −`strong_sigmas`/√d. 1/√d is the spread of the
   cosine of a random direction in d dimensions. Sign flipping and label
   flipping point away from the reference (FLTrust, Cao et al., NDSS 2021).
   The thresholds are below zero, and the peers must agree, on purpose: late
   in training honest non-IID updates are nearly orthogonal to the small
   root set's update, and some honest participants' data pull against it
   round after round (cos down to −0.16 at d = 2410 in the benchmark) while
   their peers do not see them as opposed. A ReLU(cos) test (FLTrust's)
   excludes ~8% of honest updates there; `reference` alone at −4/√d, 1–2%.
2. Subspace (`unexplained`): the share R²_i of |u_i|² lying in the span of
   all other vectors (from the inverse Gram, see linalg). Real updates of one
   round share a low-dimensional gradient subspace; an isotropic random
   vector in d dimensions has E[R²] = (k−1)/d for k vectors. Updates with
   R²_i < `kappa`·(k−1)/d are excluded: noise of an honest-looking norm, which
   no direction test can tell from a converged honest update. (Skipped when
   that floor exceeds 0.25: a tiny model has too few dimensions for it.)

Accepted updates are averaged weighted by their capped claims (exact, see
fixedpoint), as in FedAvg; scores come from the reward policy. Both tests
only exclude (reasons 64, 65): a false positive costs an honest participant
one round's reward, never its stake. Thresholds are dimension-aware and
loose on purpose, for a low honest exclusion rate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from client_kit.enums import Reason

from .base import AggregationRule, Decision, RoundContext, sample_coefficients, weight_coefficients
from .geometry import gram
from .linalg import explained_fractions

MAX_FLOOR = 0.25


class TrustedMean(AggregationRule):
    name = "trusted_mean"
    needs_reference = True

    def __init__(
        self,
        *,
        sigmas: float = 4.0,
        peer_sigmas: float = 2.5,
        strong_sigmas: float = 8.0,
        kappa: float = 4.0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.sigmas = sigmas
        self.peer_sigmas = peer_sigmas
        self.strong_sigmas = strong_sigmas
        self.kappa = kappa

    def speculate(self, weights: Sequence[int]) -> list[float]:
        return weight_coefficients(weights, [True] * len(weights))  # nobody excluded

    def decide(self, ctx: RoundContext) -> Decision:
        assert ctx.reference is not None and ctx.reference_stats is not None
        count = len(ctx.candidates)
        products = gram(
            ctx.layout,
            [*ctx.rows, ctx.reference],
            [*ctx.maxabs, ctx.reference_stats.maxabs],
            ctx.executor,
        )
        squares = np.diag(products)
        norms = np.sqrt(squares)
        ref_cos = products[:count, count] / (norms[:count] * norms[count])
        peers = products[:count, :count]
        # fsum: correctly rounded, so the peer cosines do not depend on summation order
        row_sums = np.array([math.fsum(row) for row in peers.tolist()])
        others = row_sums - squares[:count]
        others_sq = math.fsum(row_sums.tolist()) - 2.0 * row_sums + squares[:count]
        peer_cos = np.where(
            others_sq > 0, others / np.sqrt(np.maximum(others_sq, 1e-300) * squares[:count]), 0.0
        )
        explained = explained_fractions(products)[:count]
        floor = self.kappa * count / ctx.layout.size  # (k−1)/d with k = count + reference
        if floor > MAX_FLOOR:  # too few dimensions for the test to mean anything
            floor = 0.0
        spread = 1.0 / math.sqrt(ctx.layout.size)
        min_cos, min_peer_cos = -self.sigmas * spread, -self.peer_sigmas * spread
        strong_cos = -self.strong_sigmas * spread
        reasons: list[Reason] = []
        for i in range(count):
            opposed = ref_cos[i] < min_cos and peer_cos[i] < min_peer_cos
            if explained[i] < floor:
                reasons.append(Reason.UNEXPLAINED)
            elif opposed or not ref_cos[i] >= strong_cos:  # NaN-safe: NaN is opposed
                reasons.append(Reason.TRUST)
            else:
                reasons.append(Reason.OK)
        chosen = [r is Reason.OK for r in reasons]
        if any(chosen):
            model = ctx.weighted_model(sample_coefficients(ctx.candidates, chosen))
        else:
            model = ctx.base_model()
        details = {
            "reference_cosines": ref_cos.tolist(),
            "peer_cosines": peer_cos.tolist(),
            "explained": explained.tolist(),
            "explained_floor": floor,
            "min_cos": min_cos,
            "min_peer_cos": min_peer_cos,
            "strong_cos": strong_cos,
        }
        return Decision(reasons, model, details)
