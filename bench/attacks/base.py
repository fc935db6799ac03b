"""What an attacking participant can do, as one small interface.

An attack may poison the participant's local data (`poison_labels`, applied
once before training) and/or replace the update it submits (`craft`, applied
to the delta its local training produced). Defences never see which attack
is used: the simulator just submits what `craft` returns.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

Tensors = dict[str, np.ndarray]


class Attack:
    name: ClassVar[str]

    def poison_labels(
        self, labels: np.ndarray, num_classes: int, rng: np.random.Generator
    ) -> np.ndarray:
        """Labels the attacker trains on (default: its true labels)."""
        return labels

    def craft(self, trained: Tensors, rng: np.random.Generator) -> Tensors:
        """Update the attacker submits, given the delta its training produced."""
        return trained


def choose_malicious(num_clients: int, fraction: float, seed: int) -> list[int]:
    """round(fraction·n) distinct client indices, reproducible from `seed`."""
    count = round(fraction * num_clients)
    rng = np.random.default_rng(seed)
    return sorted(rng.choice(num_clients, size=count, replace=False).tolist())
