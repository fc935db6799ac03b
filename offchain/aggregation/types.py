"""The aggregator's vocabulary: updates in, verdicts and a global model out.

These types are the contract with the on-chain side: a `Judgment` becomes one
`judge_submission` call (reason as a u8 `client_kit.enums.Reason`, score in
basis points)
and `AggregationResult.global_model` is what `finalize_round` records by hash.

An update is a *delta*: the participant's new local weights minus the round's
base model, with the base's tensor names, shapes and dtype (float32). The new
global model is `base + aggregated delta`. A participant who sends the base
model back therefore submits all zeros (a free-rider).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from client_kit.canonical import encode_tensors, tensors_hash
from client_kit.enums import Reason

Tensors = dict[str, np.ndarray]

BPS_TOTAL = 10_000


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
class Judgment:
    """A rule's decision on one update: accepted or not, why (`Reason.code`,
    e.g. "robust_rule"), and its score in basis points of the round's reward."""

    key: str
    accepted: bool
    reason: str
    score_bps: int

    @property
    def reason_code(self) -> int:
        """The u8 sent to `judge_submission`."""
        return int(Reason.from_code(self.reason))


@dataclass
class AggregationResult:
    rule: str
    verdicts: list[Judgment]
    global_model: Tensors
    details: dict[str, object] = field(default_factory=dict)

    def model_bytes(self) -> bytes:
        """Canonical bytes of the new global model (what gets stored)."""
        return encode_tensors(self.global_model)

    def model_hash(self) -> bytes:
        """SHA-256 of `model_bytes()`, the on-chain global_model_hash."""
        return tensors_hash(self.global_model)

    def verdict(self, key: str) -> Judgment:
        for verdict in self.verdicts:
            if verdict.key == key:
                return verdict
        raise KeyError(key)
