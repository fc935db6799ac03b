"""Scaling / model replacement: a poisoned update boosted by `boost`.

Bagdasaryan et al., "How To Backdoor Federated Learning", AISTATS 2020:
the attacker trains on poisoned data (here flipped labels) and scales its
update by ≈ n/η so that it replaces the global model under plain averaging.
"""

from __future__ import annotations

import numpy as np

from .base import PublicView, Tensors
from .label_flip import LabelFlip


class Scaling(LabelFlip):
    name = "scaling"

    def __init__(self, boost: float = 10.0) -> None:
        self.boost = boost

    def craft(
        self, trained: Tensors, rng: np.random.Generator, view: PublicView | None = None
    ) -> Tensors:
        return {k: (self.boost * v).astype(np.float32) for k, v in trained.items()}
