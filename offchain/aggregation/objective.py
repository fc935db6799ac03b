"""Objective checks: the only faults that slash a participant's stake.

Every check here is a pure function of the revealed bytes, the chain (the
commitment, the claim) and the task package (the base model's tensor set,
the pool's declared norm bound) — so `verify-round`, the participant, or
anyone else can rerun it and must reach the same verdict. Nothing here looks
at other participants' updates: statistics about the round (outliers,
cosines, Krum scores) can only *exclude* (see `prefilter` and the rules).

In order (the first failing check names the reason):

1. `hash_mismatch` SHA-256 of the bytes received ≠ the on-chain `update_hash`.
2. `malformed`     the bytes are not canonical tensor bytes, or the claim is
                   not a positive integer (the program refuses 0 already).
3. `shape`         tensor names, shapes or dtype (float32) differ from the base.
4. `non_finite`    a NaN or ±Inf anywhere.
5. `norm_bound`    the update's L2 norm exceeds the declared bound by more than
                   `NORM_BOUND_MARGIN` (relative).

The norm for (5) is Σ x² in float64 (every square of a float32 is exact in
float64) added in an order the method fixes — 64 lanes per piece of 2^14
coordinates, folded pairwise, pieces added with `math.fsum` (`passes` gives
it exactly) — so it is the same bits everywhere, and it is the norm the
pre-filter's single read computes anyway. Another float64 summation order
changes it by ~1e-13 relative at most, far below the 1e-6 margin, so even a
reimplementation that sums differently agrees; and a participant who clips to
exactly the bound (and rounds to float32, ~6e-8 relative) is never slashed
for it.

Operator-side failures (storage unreachable, timeouts) are not checks: the
caller never has bytes then, and must retry instead of judging.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from client_kit.canonical import MalformedUpdate, canonical_hash, decode_tensors
from client_kit.enums import Reason
from offchain.errors import InvalidRule

from .layout import Layout, Rows
from .stats import update_stats
from .types import Tensors, UpdateInput

NORM_BOUND_MARGIN = 1e-6
NOISE_TAIL_SIGMAS = 10.0  # P(|N(0, σ²I_d)| > σ(√d + t)) ≤ exp(−t²/2) ≈ 2e-22 at t = 10


@dataclass(frozen=True)
class ObjectiveCheck:
    """Result of checking one revealed submission: tensors only if every check passed."""

    reason: Reason
    tensors: Tensors | None = None

    @property
    def passed(self) -> bool:
        return self.reason is Reason.OK


def shape_reason(layout: Layout, update: UpdateInput) -> Reason:
    """`malformed` for a bad claim, `shape` for a wrong tensor set/shape/dtype, else OK."""
    samples = update.num_samples
    if isinstance(samples, bool) or not isinstance(samples, int | np.integer) or samples <= 0:
        return Reason.MALFORMED
    tensors = update.tensors
    if set(tensors) != set(layout.names):
        return Reason.SHAPE
    for name, shape in zip(layout.names, layout.shapes, strict=True):
        value = np.asarray(tensors[name])
        if tuple(value.shape) != shape or value.dtype != np.float32:
            return Reason.SHAPE
    return Reason.OK


def declared_norm(rows: Rows) -> float:
    """L2 norm as checked against the declared bound (see module docstring); inf
    for an update with a NaN or ±Inf."""
    return update_stats(rows).norm


def exceeds_norm_bound(rows: Rows, norm_bound: float | None) -> bool:
    """True if a bound is declared and the update is over it (by more than the margin)."""
    if norm_bound is None:
        return False
    return declared_norm(rows) > norm_bound * (1.0 + NORM_BOUND_MARGIN)


def check_norm_bound(norm_bound: float | None) -> float | None:
    """Validate a pool's declared norm bound (`InvalidRule` unless None or finite > 0)."""
    if norm_bound is None:
        return None
    bound = float(norm_bound)
    if not 0.0 < bound < math.inf:
        raise InvalidRule("norm_bound must be a positive finite number (or None)")
    return bound


def objective_reason(
    base: Mapping[str, np.ndarray], update: UpdateInput, norm_bound: float | None = None
) -> Reason:
    """Checks 2–5 on decoded tensors: OK or the slashable reason.

    base: the round's base model (float32 tensors; defines names and shapes).
    norm_bound: the pool's declared L2 bound on an update, or None for no bound.
    Raises `ValueError` for an invalid base or bound (caller errors, not verdicts).
    """
    layout = Layout.of(base)
    bound = check_norm_bound(norm_bound)
    reason = shape_reason(layout, update)
    if reason is not Reason.OK:
        return reason
    stats = update_stats(layout.rows(update.tensors))  # one read: finiteness and norm
    if not stats.finite:
        return Reason.NON_FINITE
    if bound is not None and stats.norm > bound * (1.0 + NORM_BOUND_MARGIN):
        return Reason.NORM_BOUND
    return Reason.OK


def check_update_bytes(
    data: bytes,
    update_hash: bytes,
    base: Mapping[str, np.ndarray],
    num_samples: int,
    norm_bound: float | None = None,
) -> ObjectiveCheck:
    """Checks 1–5 on revealed bytes, as the aggregator and `verify-round` run them.

    data: the bytes actually received for the revealed CID (never call this
    without bytes: a storage failure is the operator's, not a verdict).
    update_hash: the 32-byte on-chain commitment. num_samples: the on-chain claim.
    """
    if canonical_hash(data) != bytes(update_hash):
        return ObjectiveCheck(Reason.HASH_MISMATCH)
    try:
        decoded = decode_tensors(data)
    except MalformedUpdate:
        return ObjectiveCheck(Reason.MALFORMED)
    tensors = {name: np.asarray(value) for name, value in decoded.items()}
    reason = objective_reason(base, UpdateInput("", tensors, num_samples), norm_bound)
    return ObjectiveCheck(reason, tensors if reason is Reason.OK else None)


def norm_bound_for(clip_norm: float, noise_std: float = 0.0, dimension: int = 0) -> float:
    """The bound a pool can declare when participants clip to `clip_norm` and
    then add N(0, noise_std²) to each of `dimension` coordinates (client_kit's
    `privatize_update`): clip + noise_std·(√d + 10). An honest update exceeds
    it with probability below 1e-21 (Gaussian norm concentration)."""
    if not 0.0 < clip_norm < math.inf or not 0.0 <= noise_std < math.inf or dimension < 0:
        raise InvalidRule("clip_norm must be positive, noise_std and dimension non-negative")
    if noise_std == 0.0:
        return float(clip_norm)
    return float(clip_norm) + noise_std * (math.sqrt(dimension) + NOISE_TAIL_SIGMAS)
