"""The aggregator's vocabulary: updates in, verdicts and a global model out.

These types are the contract with the on-chain side: a `Verdict` becomes one
`judge_submission` call (reason as a u8 `RejectReason`, score in basis points)
and `AggregationResult.global_model` is what `finalize_round` records by hash.

An update is a *delta*: the participant's new local weights minus the round's
base model, with the base's tensor names, shapes and dtype (float32). The new
global model is `base + aggregated delta`. A participant who sends the base
model back therefore submits all zeros (a free-rider).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from client_kit.canonical import encode_tensors, tensors_hash

Tensors = dict[str, np.ndarray]

BPS_TOTAL = 10_000


class RejectReason(IntEnum):
    """Why a submission was judged the way it was; the value is the on-chain u8.

    Values are stable: append new reasons, never renumber.
    """

    OK = 0  # accepted
    HASH = 1  # fetched bytes do not match the on-chain update_hash
    MALFORMED = 2  # bytes are not canonical tensor bytes
    SHAPE = 3  # tensor names or shapes differ from the base model
    DTYPE = 4  # a tensor is not float32
    NAN = 5  # NaN or Inf somewhere in the update
    SAMPLES = 6  # num_samples is not a positive integer
    NORM = 7  # update norm far above the round's median norm
    FREE_RIDER = 8  # (near) zero update: the base model sent back
    KRUM = 9  # not among the Multi-Krum selection
    TRUST = 10  # cosine with the pool's reference update at or below the threshold
    OUTLIER = 11  # disagrees with the coordinate-wise robust aggregate
    UNEXPLAINED = 12  # not in the span of the other updates: looks like random noise

    @property
    def code(self) -> str:
        """Short machine-readable name used in logs and `Verdict.reason`."""
        return self.name.lower()

    @classmethod
    def from_code(cls, code: str) -> RejectReason:
        return cls[code.upper()]


@dataclass(frozen=True)
class UpdateInput:
    """One participant's submission for a round.

    key: participant wallet (base58); the stable tie-break key everywhere.
    tensors: the delta (new local weights − base), float32, base's names/shapes.
    num_samples: self-reported local sample count (FedAvg / Multi-Krum weight).
    """

    key: str
    tensors: Mapping[str, np.ndarray]
    num_samples: int


@dataclass(frozen=True)
class Verdict:
    key: str
    accepted: bool
    reason: str
    score_bps: int

    @property
    def reason_code(self) -> int:
        """The u8 sent to `judge_submission`."""
        return int(RejectReason.from_code(self.reason))


@dataclass
class AggregationResult:
    rule: str
    verdicts: list[Verdict]
    global_model: Tensors
    details: dict[str, object] = field(default_factory=dict)

    def model_bytes(self) -> bytes:
        """Canonical bytes of the new global model (what gets stored)."""
        return encode_tensors(self.global_model)

    def model_hash(self) -> bytes:
        """SHA-256 of `model_bytes()`, the on-chain global_model_hash."""
        return tensors_hash(self.global_model)

    def verdict(self, key: str) -> Verdict:
        for verdict in self.verdicts:
            if verdict.key == key:
                return verdict
        raise KeyError(key)
