"""Sample-count inflation: an honest-looking update with a huge claimed sample count.

Issue 9's first incentive attack. Before commit–reveal the attacker sent
the mean of the honest updates of the round and claimed 50× the largest
honest `num_samples`, and took the whole reward (scores were claims). Under
commit–reveal it cannot see this round's updates, so it sends the most
honest-looking thing that is public: the previous round's global delta
(a near-copy, relative noise `noise`), and in the first round, when there is
none, its own honest update. It claims `factor` × the largest claim already
committed this round (claims are public at commit time).
"""

from __future__ import annotations

import numpy as np

from .base import Attack, PublicView, Tensors, jitter


class InflatedClaims(Attack):
    name = "inflated_claims"

    def __init__(self, factor: int = 50, noise: float = 1e-6) -> None:
        self.factor = factor
        self.noise = noise

    def craft(
        self, trained: Tensors, rng: np.random.Generator, view: PublicView | None = None
    ) -> Tensors:
        if view is None or view.previous_global_delta is None:
            return trained
        return jitter(view.previous_global_delta, self.noise, rng)

    def claim(self, honest: int, view: PublicView | None = None) -> int:
        largest = max([honest, *(view.claims.values() if view else [])])
        return self.factor * largest
