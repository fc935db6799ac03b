"""Copying: submit a near-copy of a peer's update instead of training.

Issue 9's second incentive attack. Before commit–reveal the CIDs were public
while the round was open and an attacker copied a peer's update of the same
round (noise 1e-6) and was paid a full share. Under commit–reveal only the
*previous* round's updates are public when it must commit, so it copies one
of those: a peer accepted last round, chosen at random, plus
relative noise `noise`. In the first round there is nothing to copy and it
sends the base model back (a zero update).
"""

from __future__ import annotations

import numpy as np

from .base import Attack, PublicView, Tensors, jitter


class CopyPeer(Attack):
    name = "copy"

    def __init__(self, noise: float = 1e-6) -> None:
        self.noise = noise

    def craft(
        self, trained: Tensors, rng: np.random.Generator, view: PublicView | None = None
    ) -> Tensors:
        peers = []
        if view is not None:
            peers = sorted(
                key
                for key in view.previous_updates
                if key != view.key and key in view.previous_accepted
            )
        if not peers:
            return {k: np.zeros_like(v, dtype=np.float32) for k, v in trained.items()}
        source = view.previous_updates[peers[int(rng.integers(len(peers)))]]
        return jitter(source, self.noise, rng)
