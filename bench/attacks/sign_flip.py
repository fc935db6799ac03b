"""Sign flipping: submit −scale × the honest update.

Damaskinos et al. / Li et al. "RSA" use it as the basic model-poisoning
attack; with scale 1 the norm is honest, so only direction gives it away.
"""

from __future__ import annotations

import numpy as np

from .base import Attack, PublicView, Tensors


class SignFlip(Attack):
    name = "sign_flip"

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale

    def craft(
        self, trained: Tensors, rng: np.random.Generator, view: PublicView | None = None
    ) -> Tensors:
        return {k: (-self.scale * v).astype(np.float32) for k, v in trained.items()}
