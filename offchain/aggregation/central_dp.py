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
this way is not bit-reproducible by `verify-round` from public inputs:
`verify-round` recomputes the model before the noise exactly and checks
that the difference is N(0, std²) noise (`noise_z_scores`).

Who this protects from whom: the noise protects the participants from
whoever sees only the global models. While updates are stored in the clear
(revealed CIDs), anyone who reads them can recompute the noiseless mean, so
central DP is meaningful against model consumers, not against storage readers.
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

DEFAULT_DELTA = 1e-5
NOISE_Z_LIMIT = 8.0  # |z| above 8 has probability < 1e-14 for genuine Gaussian noise


@dataclass(frozen=True)
class CentralDP:
    """The pool's central-DP parameters: clip bound C (L2, > 0), noise
    multiplier σ (> 0), δ in (0, 1). `InvalidRule` for anything else."""

    clip: float
    noise_multiplier: float
    delta: float = DEFAULT_DELTA

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

    def clip_coefficients(self, norms: Sequence[float]) -> list[float]:
        """min(1, C/‖uᵢ‖)/n per update: the clipped, equally weighted mean as
        coefficients of the updates (what FedAvg sums exactly)."""
        n = len(norms)
        return [(1.0 if norm <= self.clip else self.clip / norm) / n for norm in norms]

    def noise_std(self, accepted: int) -> float:
        """σ·C/n: the noise per coordinate for a mean of `accepted` updates."""
        if isinstance(accepted, bool) or not isinstance(accepted, int) or accepted < 1:
            raise InvalidRule("the noised mean needs at least one accepted update")
        return self.noise_multiplier * self.clip / accepted

    def add_noise(
        self, model: Mapping[str, np.ndarray], accepted: int, rng: np.random.Generator
    ) -> Tensors:
        """`model` + N(0, (σC/n)²) per coordinate (tensors in sorted name order,
        float32 out) for a mean of `accepted` updates."""
        std = self.noise_std(accepted)
        return {
            name: (
                np.asarray(model[name], np.float64)
                + rng.standard_normal(np.shape(model[name])) * std
            ).astype(np.float32)
            for name in sorted(model)
        }

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
    norms = [update_norm(update) for update in updates]
    coeffs = dp.clip_coefficients(norms)
    mean = {
        name: sum(np.asarray(u[name], np.float64) * c for u, c in zip(updates, coeffs, strict=True))
        for name in sorted(updates[0])
    }
    clipped = sum(norm > dp.clip for norm in norms)
    noised = dp.add_noise(mean, len(updates), rng)
    return CentralDPRound(
        noised, clipped, dp.noise_std(len(updates)), dp.epsilon(1), dp.epsilon(round)
    )


def noise_z_scores(
    published: Mapping[str, np.ndarray], noiseless: Mapping[str, np.ndarray], std: float
) -> tuple[float, float]:
    """z-scores of the residual r = published − noiseless over all d coordinates
    against N(0, std²): (mean(r)·√d / std, (Σr²/(d·std²) − 1)·√(d/2)). Both are
    ≈ N(0, 1) for genuine noise (CLT; d is thousands); a missing, shrunk or
    shifted noise gives a large |z|. `InvalidRule` for mismatched tensors."""
    if set(published) != set(noiseless) or not 0 < std < math.inf:
        raise InvalidRule("the models differ in tensors, or the noise std is not positive")
    residual = np.concatenate(
        [
            (np.asarray(published[n], np.float64) - np.asarray(noiseless[n], np.float64)).ravel()
            for n in sorted(published)
        ]
    )
    d = residual.size
    if d == 0:
        raise InvalidRule("no coordinates to check")
    mean_z = float(residual.mean() * math.sqrt(d) / std)
    var_z = float((float(residual @ residual) / (d * std * std) - 1.0) * math.sqrt(d / 2))
    return mean_z, var_z
