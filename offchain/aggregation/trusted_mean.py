"""Trusted mean: reject what the evidence says is an attack, FedAvg the rest.

The default rule. It combines FLTrust's anchor with a subspace test and then
averages like FedAvg, so that without attacks it *is* FedAvg (same model
quality) and with attacks the bad updates are excluded instead of merely
down-weighted — which matters here because verdicts decide rewards and
slashing, not just the model.

After the shared pre-filter (validity, scaling, free-riding), one exact Gram
matrix of the candidates plus the pool's reference update (see geometry)
gives two tests:

1. Direction (`trust`): cos(u_i, reference) must not be significantly
   negative: ≥ −`sigmas`/√d, where 1/√d is the spread of the cosine of a
   random direction in d dimensions. Sign flipping and label flipping point
   away from the root-data reference (FLTrust, Cao et al., NDSS 2021). The
   threshold is below zero on purpose: late in training honest non-IID
   updates are nearly orthogonal to the small root set's update, and a
   plain ReLU(cos) test (FLTrust's) would slash them. `peer_cosines`
   (cos with the sum of the others) is reported in details for monitoring.
2. Subspace (`unexplained`): the share R²_i of |u_i|² lying in the span of
   all other vectors (from the inverse Gram, see linalg). Real updates of one
   round share a low-dimensional gradient subspace; an isotropic random
   vector in d dimensions has E[R²] = (k−1)/d for k vectors. Updates with
   R²_i < `kappa`·(k−1)/d are rejected: noise of an honest-looking norm, which
   no direction test can tell from a converged honest update. (Skipped when
   that floor exceeds 0.25: a tiny model has too few dimensions for it.)

Accepted updates are averaged weighted by num_samples (exact, see
fixedpoint) and scored by num_samples, as in FedAvg. Thresholds are
dimension-aware or loose on purpose: a false rejection slashes an honest stake.
"""

from __future__ import annotations

import math

import numpy as np

from client_kit.enums import Reason

from .base import AggregationRule, Decision, RoundContext, sample_coefficients
from .fixedpoint import weighted_sum
from .geometry import gram
from .linalg import explained_fractions

MAX_FLOOR = 0.25


class TrustedMean(AggregationRule):
    name = "trusted_mean"
    needs_reference = True

    def __init__(self, *, sigmas: float = 4.0, kappa: float = 4.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.sigmas = sigmas
        self.kappa = kappa

    def decide(self, ctx: RoundContext) -> Decision:
        assert ctx.reference is not None and ctx.reference_stats is not None
        count = len(ctx.candidates)
        products = gram(
            ctx.layout,
            [*ctx.rows, ctx.reference],
            [*ctx.maxabs, ctx.reference_stats.maxabs],
            ctx.workers,
        )
        squares = np.diag(products)
        norms = np.sqrt(squares)
        ref_cos = products[:count, count] / (norms[:count] * norms[count])
        peers = products[:count, :count]
        row_sums = peers.sum(axis=1)  # float64 sums of few values in fixed numpy order
        others = row_sums - squares[:count]
        others_sq = peers.sum() - 2.0 * row_sums + squares[:count]
        peer_cos = np.where(
            others_sq > 0, others / np.sqrt(np.maximum(others_sq, 1e-300) * squares[:count]), 0.0
        )
        explained = explained_fractions(products)[:count]
        floor = self.kappa * count / ctx.layout.size  # (k−1)/d with k = count + reference
        if floor > MAX_FLOOR:  # too few dimensions for the test to mean anything
            floor = 0.0
        min_cos = -self.sigmas / math.sqrt(ctx.layout.size)
        reasons: list[Reason] = []
        for i in range(count):
            if explained[i] < floor:
                reasons.append(Reason.UNEXPLAINED)
            elif not ref_cos[i] >= min_cos:
                reasons.append(Reason.TRUST)
            else:
                reasons.append(Reason.OK)
        chosen = [r is Reason.OK for r in reasons]
        if any(chosen):
            coeffs = sample_coefficients(ctx.candidates, chosen)
            delta = weighted_sum(ctx.layout, ctx.rows, coeffs, ctx.maxabs, workers=ctx.workers)
        else:
            delta = [np.zeros(size) for size in ctx.layout.sizes]
        weights = [
            float(c.num_samples) if ok else 0.0
            for c, ok in zip(ctx.candidates, chosen, strict=True)
        ]
        details = {
            "reference_cosines": ref_cos.tolist(),
            "peer_cosines": peer_cos.tolist(),
            "explained": explained.tolist(),
            "explained_floor": floor,
            "min_cos": min_cos,
        }
        return Decision(weights, reasons, delta, details)
