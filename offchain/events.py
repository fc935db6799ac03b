"""Events only the operator knows, published on the bus beside the chain's.

The chain records what was decided (verdicts, the global model's hash); some
of what watchers want to see is measured off chain by the operator, e.g. how
well each round's global model does on the operator's held-out test set. The
round coordinator publishes those as typed events with
`EventBus.publish_operator`; the API's feed and dashboard show them.

Each event is a frozen dataclass with a `NAME` and a `pool` field (so the feed
can filter by pool), checked when built: a malformed value raises
`InvalidOperatorEvent` and nothing is published.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from solders.pubkey import Pubkey

from client_kit.errors import FedstakeError


class InvalidOperatorEvent(FedstakeError, ValueError):
    """An operator event with a value outside its documented range."""


@dataclass(frozen=True)
class RoundEvaluated:
    """The operator's evaluation of round `round`'s global model (the model whose
    hash `finalize_round` recorded) on its held-out test set.

    `accuracy` is the fraction of `samples` test examples classified correctly
    (0..1); `loss` the mean cross-entropy per example (finite, ≥ 0);
    `global_model_hash` the 32-byte SHA-256 of the evaluated model's canonical
    bytes. Raises `InvalidOperatorEvent` for anything else.
    """

    NAME: ClassVar[str] = "RoundEvaluated"
    pool: Pubkey
    round: int
    accuracy: float
    loss: float
    samples: int
    global_model_hash: bytes

    def __post_init__(self) -> None:
        _check_pool_round(self.pool, self.round)
        _check_count("samples", self.samples)
        if not _is_real(self.accuracy) or not 0.0 <= self.accuracy <= 1.0:
            raise InvalidOperatorEvent(f"accuracy must be in [0, 1], got {self.accuracy!r}")
        if not _is_real(self.loss) or self.loss < 0.0:
            raise InvalidOperatorEvent(f"loss must be finite and ≥ 0, got {self.loss!r}")
        if not isinstance(self.global_model_hash, bytes) or len(self.global_model_hash) != 32:
            raise InvalidOperatorEvent("global_model_hash must be 32 bytes")


@dataclass(frozen=True)
class RoundPrivacy:
    """The central DP of round `round`'s global model, as its round record
    states it (`offchain.record.CentralDPRecord`): ε of this round and of
    rounds 1..round (`epsilon_round` ≤ `epsilon_total`, both finite > 0, from
    Opacus's RDP accountant) at `delta` in (0, 1), with noise multiplier σ
    and clip bound C (> 0) over `accepted` (≥ 1) updates. Raises
    `InvalidOperatorEvent` for anything else."""

    NAME: ClassVar[str] = "RoundPrivacy"
    pool: Pubkey
    round: int
    epsilon_round: float
    epsilon_total: float
    delta: float
    noise_multiplier: float
    clip: float
    accepted: int

    def __post_init__(self) -> None:
        _check_pool_round(self.pool, self.round)
        _check_count("accepted", self.accepted)
        for name in ("epsilon_round", "epsilon_total", "noise_multiplier", "clip"):
            value = getattr(self, name)
            if not _is_real(value) or value <= 0:
                raise InvalidOperatorEvent(f"{name} must be finite and > 0, got {value!r}")
        if self.epsilon_round > self.epsilon_total:
            raise InvalidOperatorEvent("epsilon_round cannot exceed epsilon_total")
        if not _is_real(self.delta) or not 0 < self.delta < 1:
            raise InvalidOperatorEvent(f"delta must be in (0, 1), got {self.delta!r}")


OPERATOR_EVENT_TYPES: dict[str, type] = {cls.NAME: cls for cls in (RoundEvaluated, RoundPrivacy)}


def _check_pool_round(pool: object, round: object) -> None:
    if not isinstance(pool, Pubkey):
        raise InvalidOperatorEvent("pool must be a Pubkey")
    if not _is_int(round) or not 1 <= round <= 2**32 - 1:  # type: ignore[operator]
        raise InvalidOperatorEvent(f"round must be a u32 ≥ 1, got {round!r}")


def _check_count(name: str, value: object) -> None:
    if not _is_int(value) or value < 1:  # type: ignore[operator]
        raise InvalidOperatorEvent(f"{name} must be a positive count, got {value!r}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
