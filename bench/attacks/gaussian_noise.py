"""Gaussian noise: submit random N(0, σ²) values instead of an update.

σ is `ratio` × the RMS of the attacker's honest update, so with ratio 1 the
noise has an honest-looking norm and passes a norm filter (Blanchard et
al. 2017 use the same "Gaussian Byzantine worker").
"""

from __future__ import annotations

import numpy as np

from .base import Attack, PublicView, Tensors, rms


class GaussianNoise(Attack):
    name = "noise"

    def __init__(self, ratio: float = 1.0) -> None:
        self.ratio = ratio

    def craft(
        self, trained: Tensors, rng: np.random.Generator, view: PublicView | None = None
    ) -> Tensors:
        sigma = self.ratio * rms(trained)
        return {k: rng.normal(0.0, sigma, v.shape).astype(np.float32) for k, v in trained.items()}
