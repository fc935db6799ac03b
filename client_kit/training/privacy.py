"""Client-side protection of an update before it leaves the participant's machine.

Two optional steps, in the order differential-privacy training applies them
(Abadi et al., "Deep Learning with Differential Privacy", 2016; here per
client update as in McMahan et al., "Learning Differentially Private
Recurrent Language Models", 2018):

1. clip the whole update's L2 norm to `clip_norm` (bounds any one
   participant's influence, and is what makes noise meaningful);
2. add Gaussian noise of standard deviation `noise_multiplier × clip_norm`
   to every coordinate.

The parameters actually used come back as a `PrivacyReport`, so they can be
recorded with the submission. Accounting the resulting (ε, δ) over rounds is
not done here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from client_kit.canonical import Tensors
from client_kit.errors import FedstakeError


class InvalidPrivacyConfig(FedstakeError, ValueError):
    """Clipping or noise parameters that make no sense (negative, NaN, noise without clip)."""


@dataclass(frozen=True)
class PrivacyReport:
    clip_norm: float
    noise_multiplier: float
    noise_std: float  # = noise_multiplier * clip_norm
    norm_before: float  # L2 norm of the raw update
    norm_after_clip: float
    clipped: bool


def update_norm(update: Mapping[str, np.ndarray]) -> float:
    """L2 norm over every coordinate of every tensor (accumulated in float64)."""
    total = 0.0
    for name in sorted(update):
        flat = np.asarray(update[name], dtype=np.float64).ravel()
        total += float(flat @ flat)
    return math.sqrt(total)


def clip_update(update: Mapping[str, np.ndarray], clip_norm: float) -> tuple[Tensors, float]:
    """Scale `update` down so its norm is at most `clip_norm`; returns (clipped, norm before)."""
    if not clip_norm > 0 or not math.isfinite(clip_norm):
        raise InvalidPrivacyConfig("clip_norm must be a positive number")
    norm = update_norm(update)
    scale = min(1.0, clip_norm / norm) if norm > 0 else 1.0
    clipped = {
        name: (np.asarray(tensor, dtype=np.float64) * scale).astype(np.float32)
        for name, tensor in update.items()
    }
    return clipped, norm


def privatize_update(
    update: Mapping[str, np.ndarray],
    *,
    clip_norm: float,
    noise_multiplier: float = 0.0,
    seed: int | None = None,
) -> tuple[Tensors, PrivacyReport]:
    """Clip, then add N(0, (noise_multiplier·clip_norm)²) noise to every coordinate.

    `seed=None` draws noise from OS entropy, which is what real use wants:
    whoever knows the seed can subtract the noise. Tests pass a seed.
    """
    if not noise_multiplier >= 0 or not math.isfinite(noise_multiplier):
        raise InvalidPrivacyConfig("noise_multiplier must be >= 0")
    clipped, norm = clip_update(update, clip_norm)
    norm_after = update_norm(clipped)
    std = noise_multiplier * clip_norm
    if std > 0:
        rng = np.random.default_rng(seed)
        for name in sorted(clipped):
            noise = rng.standard_normal(clipped[name].shape) * std
            clipped[name] = (clipped[name].astype(np.float64) + noise).astype(np.float32)
    report = PrivacyReport(
        clip_norm=float(clip_norm),
        noise_multiplier=float(noise_multiplier),
        noise_std=float(std),
        norm_before=norm,
        norm_after_clip=norm_after,
        clipped=norm > clip_norm,
    )
    return clipped, report
