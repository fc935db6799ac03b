"""Multi-Krum (f, m).

Blanchard, El Mhamdi, Guerraoui, Stainer, "Machine Learning with Adversaries:
Byzantine Tolerant Gradient Descent", NeurIPS 2017 (Krum; Multi-Krum in §5).

Each candidate's Krum score is the sum of squared distances to its
n − f − 2 nearest other candidates; the m lowest scores (ties to the smaller
key) are accepted and averaged weighted by their capped claims, as Flower
does (by num_samples); the rest are excluded with reason `robust_rule`.
f defaults to ⌊β·n⌋ with β = 0.2 and m to n − f. Distances come from the
exact Gram matrix of the updates rounded to 8 bits each (`coarse_gram`,
float32 BLAS with every partial sum exact; see geometry), and each score is
summed with `math.fsum` over the sorted distances, so the selection is
reproducible.

Note: Multi-Krum always excludes n − m candidates, attack or not, so honest
outliers lose their reward in clean rounds (never their stake).
"""

from __future__ import annotations

import math

import numpy as np

from client_kit.enums import Reason

from .base import AggregationRule, Decision, RoundContext, sample_coefficients
from .geometry import coarse_gram, pairwise_sq_distances


def krum_scores(distances: np.ndarray, byzantine: int) -> list[float]:
    """Sum of each row's n − f − 2 smallest off-diagonal squared distances."""
    count = distances.shape[0]
    neighbours = max(1, count - byzantine - 2)
    scores = []
    for i in range(count):
        others = np.sort(np.delete(distances[i], i))[:neighbours]
        scores.append(math.fsum(others.tolist()))
    return scores


class MultiKrum(AggregationRule):
    name = "multikrum"

    def __init__(
        self, *, byzantine_fraction: float = 0.2, keep: int | None = None, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self.byzantine_fraction = byzantine_fraction
        self.keep = keep

    def sizes(self, count: int) -> tuple[int, int]:
        """(f, m) for `count` candidates."""
        byzantine = min(math.floor(self.byzantine_fraction * count), max(0, (count - 3) // 2))
        keep = self.keep if self.keep is not None else count - byzantine
        return byzantine, max(1, min(keep, count))

    def decide(self, ctx: RoundContext) -> Decision:
        count = len(ctx.candidates)
        byzantine, keep = self.sizes(count)
        products = coarse_gram(ctx.layout, ctx.rows, ctx.maxabs, ctx.executor)
        distances = pairwise_sq_distances(products)
        scores = krum_scores(distances, byzantine)
        ranking = sorted(range(count), key=lambda i: (scores[i], i))
        chosen = [False] * count
        for i in ranking[:keep]:
            chosen[i] = True
        model = ctx.weighted_model(sample_coefficients(ctx.candidates, chosen))
        reasons = [Reason.OK if keep_it else Reason.ROBUST_RULE for keep_it in chosen]
        return Decision(reasons, model, {"krum_scores": scores, "f": byzantine, "m": keep})
