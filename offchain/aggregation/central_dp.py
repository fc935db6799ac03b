"""Central differential privacy for FedAvg: what the aggregator adds when the
pool asks for participant-level DP on the global model.

McMahan, Ramage, Talwar, Zhang, "Learning Differentially Private Recurrent
Language Models", ICLR 2018 (DP-FedAvg): clip each accepted update to L2
norm C, average with equal weights over the n updates, add Gaussian noise of
standard deviation σ·C/n to every coordinate. One round is one Gaussian
mechanism on the participants' updates (sensitivity C/n of the mean, every
active participant takes part: sample rate 1); the ε of one round and of r
rounds comes from Opacus's RDP accountant (`client_kit.training.accounting`),
never from a formula of ours.

The noise must stay secret (whoever knows it can subtract it), so it is
drawn from a generator the caller seeds from OS entropy; a round aggregated
this way is not bit-reproducible by `verify-round` from public inputs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from client_kit.training.accounting import MechanismStep, check_budget, epsilon_spent
from client_kit.training.privacy import update_norm
from offchain.errors import InvalidRule

from .types import Tensors


@dataclass(frozen=True)
class CentralDP:
    """The pool's central-DP parameters: clip bound C (L2, > 0), noise
    multiplier σ (> 0), δ in (0, 1). `InvalidRule` for anything else."""

    clip: float
    noise_multiplier: float
    delta: float = 1e-5

    def __post_init__(self) -> None:
        for name in ("clip", "noise_multiplier"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidRule(f"central DP {name} must be a number")
            if not 0 < value < math.inf:
                raise InvalidRule(f"central DP {name} must be positive and finite, got {value}")
        if isinstance(self.delta, bool) or not isinstance(self.delta, int | float):
            raise InvalidRule("central DP delta must be a number")
        if not 0 < self.delta < 1:
            raise InvalidRule(f"central DP delta must be in (0, 1), got {self.delta}")

    def epsilon(self, rounds: int) -> float:
        """ε after `rounds` rounds (RDP accountant, sample rate 1) at this δ."""
        if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 0:
            raise InvalidRule("rounds must be a non-negative integer")
        check_budget(1.0, self.delta)
        if rounds == 0:
            return 0.0
        return epsilon_spent([MechanismStep(self.noise_multiplier, 1.0, rounds)], self.delta)


@dataclass(frozen=True)
class CentralDPRound:
    """One noised aggregate: the new global delta, how many updates were
    clipped, the noise std per coordinate, and ε of this round and of every
    round so far (`round` of them)."""

    delta: Tensors
    clipped: int
    noise_std: float
    epsilon_round: float
    epsilon_total: float


def noised_mean(
    updates: Sequence[Mapping[str, np.ndarray]],
    dp: CentralDP,
    round: int,
    rng: np.random.Generator,
) -> CentralDPRound:
    """(1/n)·Σ clip_C(uᵢ) + N(0, (σC/n)²·I): the DP-FedAvg aggregate of `updates`
    (float32 tensors, same names and shapes) for round number `round` (≥ 1).
    `rng` draws the noise (seed it from OS entropy). `InvalidRule` for no
    updates or a bad round number."""
    if not updates:
        raise InvalidRule("central DP needs at least one update")
    if isinstance(round, bool) or not isinstance(round, int) or round < 1:
        raise InvalidRule("round must be a positive integer")
    n = len(updates)
    names = sorted(updates[0])
    total = {name: np.zeros(np.shape(updates[0][name]), np.float64) for name in names}
    clipped = 0
    for update in updates:
        norm = update_norm(update)
        scale = 1.0 if norm <= dp.clip else dp.clip / norm
        clipped += norm > dp.clip
        for name in names:
            total[name] += np.asarray(update[name], np.float64) * scale
    std = dp.noise_multiplier * dp.clip / n
    mean = {
        name: (total[name] / n + rng.standard_normal(total[name].shape) * std).astype(np.float32)
        for name in names
    }
    return CentralDPRound(mean, clipped, std, dp.epsilon(1), dp.epsilon(round))
