"""The aggregator's vocabulary: updates in, verdicts and a global model out.

These types are the contract with the on-chain side: a `Judgment` becomes one
`judge_submission(verdict, score, reason)` call (reason a u8
`client_kit.enums.Reason`, verdict a `client_kit.enums.Verdict`, score in
basis points) and `AggregationResult.global_model` is what `finalize_round`
records by hash.

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
that is what makes the honest slash rate 0 by construction. The codes, the
classes and the reward policies have one home, `client_kit.enums`.

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
from client_kit.enums import (
    FIRST_OBJECTIVE,
    FIRST_STATISTICAL,
    LAST_OBJECTIVE,
    LAST_STATISTICAL,
    Reason,
    RewardPolicy,
    Verdict,
)
from offchain.errors import InvalidRoundInput

Tensors = dict[str, np.ndarray]

BPS_TOTAL = 10_000
OBJECTIVE_CODES = range(FIRST_OBJECTIVE, LAST_OBJECTIVE + 1)  # slashable
STATISTICAL_CODES = range(FIRST_STATISTICAL, LAST_STATISTICAL + 1)  # exclude only


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
class Judgment:
    """A rule's decision on one update; the verdict class follows from the
    reason code (`client_kit.enums.Reason.verdict`).

    score_bps: basis points of the round's reward (0 unless accepted; the
    accepted scores of a round sum to 10,000 or are all 0).
    Raises `InvalidRoundInput` for a score on a rejection or outside 0..=10000.
    """

    key: str
    code: Reason
    score_bps: int = 0

    def __post_init__(self) -> None:
        if self.code is not Reason.OK and self.score_bps != 0:
            raise InvalidRoundInput("only an accepted verdict can carry a score")
        if not 0 <= self.score_bps <= BPS_TOTAL:
            raise InvalidRoundInput("score_bps must be within 0..=10000")
        self.code.verdict  # noqa: B018  (raises UnknownVariant for a reserved code)

    @property
    def verdict(self) -> Verdict:
        """The verdict class (`Accepted`, `Excluded`, `Slashed`) the reason implies."""
        return self.code.verdict

    @property
    def accepted(self) -> bool:
        return self.code is Reason.OK

    @property
    def excluded(self) -> bool:
        return self.verdict is Verdict.EXCLUDED

    @property
    def slashed(self) -> bool:
        return self.verdict is Verdict.SLASHED

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
        return self.verdict.tag


@dataclass
class AggregationResult:
    """What a rule returns for one round.

    verdicts: one per update, in key order. policy: the reward policy that
    produced the scores. details: per-rule diagnostics (cosines, contributions…).
    """

    rule: str
    verdicts: list[Judgment]
    global_model: Tensors
    details: dict[str, object] = field(default_factory=dict)
    policy: RewardPolicy = RewardPolicy.EQUAL

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
