"""What an attacking participant can do, as one small interface.

An attack may poison the participant's local data (`poison_labels`, applied
once before training), replace the update it submits (`craft`, applied to
the delta its local training produced) and lie about its sample count
(`claim`). Defences never see which attack is used: the simulator just
submits what the attack returns.

What an attacker may look at is what the protocol makes public when it
commits (`PublicView`). Under commit–reveal that is everything from earlier
rounds — revealed updates, global models (hence the previous global delta),
verdicts and scores — plus the claims (`num_samples`) already committed this
round, but no update of this round: those are revealed only after the
submission deadline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

Tensors = dict[str, np.ndarray]


@dataclass(frozen=True)
class PublicView:
    """Public state at commit time of round `round` (0-based) for attacker `key`.

    previous_updates: key → revealed update of the previous round (empty in round 0).
    previous_global_delta: global model of this round − of the previous one (None in round 0).
    previous_accepted: keys whose update was accepted in the previous round.
    claims: key → num_samples committed this round by the other participants.
    """

    round: int
    key: str
    previous_updates: Mapping[str, Tensors] = field(default_factory=dict)
    previous_global_delta: Tensors | None = None
    previous_accepted: frozenset[str] = frozenset()
    claims: Mapping[str, int] = field(default_factory=dict)


class Attack:
    name: ClassVar[str]

    def poison_labels(
        self, labels: np.ndarray, num_classes: int, rng: np.random.Generator
    ) -> np.ndarray:
        """Labels the attacker trains on (default: its true labels)."""
        return labels

    def craft(
        self, trained: Tensors, rng: np.random.Generator, view: PublicView | None = None
    ) -> Tensors:
        """Update the attacker submits, given the delta its training produced."""
        return trained

    def claim(self, honest: int, view: PublicView | None = None) -> int:
        """num_samples the attacker commits, given its true count (default: the truth)."""
        return honest


def choose_malicious(num_clients: int, fraction: float, seed: int) -> list[int]:
    """round(fraction·n) distinct client indices, reproducible from `seed`."""
    count = round(fraction * num_clients)
    rng = np.random.default_rng(seed)
    return sorted(rng.choice(num_clients, size=count, replace=False).tolist())


def rms(tensors: Mapping[str, np.ndarray]) -> float:
    """Root mean square over every coordinate (float64)."""
    squares = sum(float(np.sum(np.square(v, dtype=np.float64))) for v in tensors.values())
    count = sum(v.size for v in tensors.values())
    return float(np.sqrt(squares / max(count, 1)))


def jitter(tensors: Mapping[str, np.ndarray], relative: float, rng: np.random.Generator) -> Tensors:
    """tensors + N(0, (relative·rms)²) noise, as float32 (a near-copy)."""
    sigma = relative * rms(tensors)
    return {
        k: (np.asarray(v, dtype=np.float64) + rng.normal(0.0, sigma, np.shape(v))).astype(
            np.float32
        )
        for k, v in tensors.items()
    }
