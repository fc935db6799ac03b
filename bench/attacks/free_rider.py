"""Free-riding: claim a reward without training.

Lin et al., "Free-riders in Federated Learning: Attacks and Defenses", 2019.
The plain free-rider sends the last global model back (a zero delta); a
disguised one adds small Gaussian noise of `disguise` × the honest RMS.
"""

from __future__ import annotations

import numpy as np

from .base import Attack, PublicView, Tensors, rms


class FreeRider(Attack):
    name = "free_rider"

    def __init__(self, disguise: float = 0.0) -> None:
        self.disguise = disguise

    def craft(
        self, trained: Tensors, rng: np.random.Generator, view: PublicView | None = None
    ) -> Tensors:
        if self.disguise == 0.0:
            return {k: np.zeros_like(v, dtype=np.float32) for k, v in trained.items()}
        sigma = self.disguise * rms(trained)
        return {k: rng.normal(0.0, sigma, v.shape).astype(np.float32) for k, v in trained.items()}
