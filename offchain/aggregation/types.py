"""The aggregator's vocabulary: updates in, verdicts and a global model out.

These types are the contract with the on-chain side: a `Verdict` becomes one
`judge_submission(verdict, score, reason)` call and
`AggregationResult.global_model` is what `finalize_round` records by hash.

Verdict classes (docs/PROTOCOL.md, issue 9):

- **Accepted** (reason 0) — earns its score's share of the round's reward.
- **Slashed** (reasons 1..=63) — an *objective* fault that anyone can
  reproduce from the stored bytes, the chain and the task package
  (`objective`): wrong bytes, wrong shapes, non-finite values, over the
  pool's declared norm bound, never revealed.
- **Excluded** (reasons 64..=127) — a *statistical* doubt of the robust rule:
  no reward this round, no slash, the participant may submit next round.

The class is a function of the reason code, so a verdict can never pair a
statistical reason with a slash. No statistical test returns a code below 64:
that is what makes the honest slash rate 0 by construction.

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
OBJECTIVE_CODES = range(1, 64)  # slashable
STATISTICAL_CODES = range(64, 128)  # exclude only


class VerdictKind(IntEnum):
    """The on-chain `Verdict` enum (u8): what a judgment does to the participant."""

    PENDING = 0
    ACCEPTED = 1
    EXCLUDED = 2
    SLASHED = 3

    @property
    def label(self) -> str:
        return self.name.lower()


class ReasonCode(IntEnum):
    """Why a submission was judged the way it was; the value is the on-chain u8.

    1..=63 objective (slash), 64..=127 statistical (exclude). Values are
    stable: append new reasons in their range, never renumber. Every code is
    also a `client_kit.enums.Reason` of the same name and value (the chain's
    side; a test holds the two to that), so `Reason.from_code(verdict.reason)`
    always finds it.
    """

    OK = 0
    # objective: reproducible from the stored bytes, the chain and the task package
    HASH_MISMATCH = 1  # bytes received do not hash to the commitment
    MALFORMED = 2  # undecodable bytes, or a claim the chain would not hold (num_samples ≤ 0)
    NON_FINITE = 3  # NaN or ±Inf somewhere in the update
    SHAPE = 4  # wrong tensor set, shape or dtype
    NORM_BOUND = 5  # L2 norm over the pool's declared norm bound
    NOT_REVEALED = 6  # committed but never revealed before the reveal deadline
    DUPLICATE = 7  # same bytes as another submission (reserved: encrypted updates)
    # statistical: the rule's doubt
    TRUST = 64  # direction opposed to the operator's reference update
    UNEXPLAINED = 65  # outside the span of the other updates (looks like noise)
    NORM_OUTLIER = 66  # norm far above the round's median norm
    FREE_RIDER = 67  # (near) zero update: the base model sent back
    ROBUST_RULE = 68  # rejected by the rule's own selection (Multi-Krum, median agreement)
    REPLAY = 69  # (near) copy of an update published earlier, or of an earlier commitment

    # Names used before issue 9 (kept so callers written against them still import).
    HASH = 1
    NAN = 3

    @property
    def kind(self) -> VerdictKind:
        """The verdict class this reason implies (see module docstring)."""
        if self is ReasonCode.OK:
            return VerdictKind.ACCEPTED
        if int(self) in OBJECTIVE_CODES:
            return VerdictKind.SLASHED
        return VerdictKind.EXCLUDED

    @property
    def code(self) -> str:
        """Short machine-readable name used in logs and `Verdict.reason`."""
        return self.name.lower()

    @classmethod
    def from_code(cls, code: str) -> ReasonCode:
        return cls[code.upper()]


RejectReason = ReasonCode  # the pre-issue-9 name


class RewardPolicy(IntEnum):
    """How accepted submissions share a round's reward (the on-chain `reward_policy` u8).

    EQUAL: every accepted submission gets the same basis points (largest
    remainder, leftover points to the smaller keys). CONTRIBUTION: basis
    points pro rata to the leave-one-out value of each accepted update on the
    operator's validation set (`contribution`). Neither reads sample counts.
    """

    EQUAL = 0
    CONTRIBUTION = 1

    @classmethod
    def parse(cls, value: RewardPolicy | str | int) -> RewardPolicy:
        """From a policy, its name ("equal") or its u8 (`ValueError` otherwise)."""
        if isinstance(value, str):
            try:
                return cls[value.upper()]
            except KeyError:
                raise ValueError(f"unknown reward policy {value!r}") from None
        return cls(value)


@dataclass(frozen=True)
class UpdateInput:
    """One participant's submission for a round.

    key: participant wallet (base58); the stable tie-break key everywhere.
    tensors: the delta (new local weights − base), float32, base's names/shapes.
    num_samples: self-reported local sample count; moves the model only up to
        the rule's cap (`sample_cap` × the median claim), never the score.
    committed_at: when the commitment landed (slot or unix seconds); orders
        identical submissions of one round (the later copies are `replay`).
    """

    key: str
    tensors: Mapping[str, np.ndarray]
    num_samples: int
    committed_at: int = 0


@dataclass(frozen=True)
class Verdict:
    """One judgment (also named `Judgment`, the operator's word for it): the class
    follows from the reason code (`ReasonCode.kind`).

    score_bps: basis points of the round's reward (0 unless accepted; the
    accepted scores of a round sum to 10,000 or are all 0).
    """

    key: str
    code: ReasonCode
    score_bps: int = 0

    def __post_init__(self) -> None:
        if self.code is not ReasonCode.OK and self.score_bps != 0:
            raise ValueError("only an accepted verdict can carry a score")
        if not 0 <= self.score_bps <= BPS_TOTAL:
            raise ValueError("score_bps must be within 0..=10000")

    @property
    def kind(self) -> VerdictKind:
        return self.code.kind

    @property
    def accepted(self) -> bool:
        return self.code is ReasonCode.OK

    @property
    def excluded(self) -> bool:
        return self.kind is VerdictKind.EXCLUDED

    @property
    def slashed(self) -> bool:
        return self.kind is VerdictKind.SLASHED

    @property
    def reason(self) -> str:
        """The reason's name, e.g. "ok", "trust", "non_finite"."""
        return self.code.code

    @property
    def reason_code(self) -> int:
        """The u8 `reason` sent to `judge_submission`."""
        return int(self.code)

    @property
    def verdict_code(self) -> int:
        """The u8 `verdict` sent to `judge_submission` (1 accepted, 2 excluded, 3 slashed)."""
        return int(self.kind)


Judgment = Verdict  # the name the operator (`offchain.aggregator`) uses


@dataclass
class AggregationResult:
    """What a rule returns for one round.

    verdicts: one per update, in key order. policy: the reward policy that
    produced the scores. details: per-rule diagnostics (cosines, contributions…).
    """

    rule: str
    verdicts: list[Verdict]
    global_model: Tensors
    details: dict[str, object] = field(default_factory=dict)
    policy: RewardPolicy = RewardPolicy.EQUAL

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
