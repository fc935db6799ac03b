"""Label flipping: train honestly on poisoned data (label y becomes C−1−y).

Data poisoning (Tolpegin et al., "Data Poisoning Attacks Against Federated
Learning Systems", ESORICS 2020): the update is a genuine training result, so
it has a normal norm and only its direction is wrong.
"""

from __future__ import annotations

import numpy as np

from .base import Attack


class LabelFlip(Attack):
    name = "label_flip"

    def poison_labels(
        self, labels: np.ndarray, num_classes: int, rng: np.random.Generator
    ) -> np.ndarray:
        return (num_classes - 1 - labels).astype(labels.dtype)
