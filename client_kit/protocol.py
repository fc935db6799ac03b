"""The protocol's on-chain vocabulary: verdicts, reason codes, reward policies.

These numbers are part of the program's interface (`judge_submission`'s
`verdict` and `reason` bytes, `create_pool`'s `reward_policy`); the program
enforces the classes (see docs/PROTOCOL.md and
`programs/fedstake/src/logic.rs::check_verdict`):

- `Verdict.ACCEPTED` needs reason `OK` (0) and earns its score;
- `Verdict.SLASHED` needs an objective reason (1..=63) and score 0;
- `Verdict.EXCLUDED` needs a statistical reason (64..=127) and score 0;
- an unrevealed submission can only be `SLASHED` / `NOT_REVEALED`.

Values are stable: append, never renumber.
"""

from __future__ import annotations

from enum import IntEnum


class Verdict(IntEnum):
    """`Submission.verdict` (the IDL's `Verdict` enum, by index)."""

    PENDING = 0
    ACCEPTED = 1
    EXCLUDED = 2
    SLASHED = 3


class Reason(IntEnum):
    """`judge_submission`'s reason byte."""

    OK = 0
    # objective, slashable: reproducible from the stored bytes and the chain
    HASH_MISMATCH = 1  # bytes received for the revealed CID do not hash to the commitment
    MALFORMED = 2  # not decodable as canonical tensor bytes (or the revealed CID is not a CID)
    NON_FINITE = 3  # NaN or ±Inf in the update
    SHAPE = 4  # wrong tensor set, shape or dtype
    NORM_BOUND = 5  # norm over the pool's declared bound (task package)
    NOT_REVEALED = 6  # committed, never revealed by the reveal deadline
    DUPLICATE = 7  # same update bytes/hash as another submission of the round (reserved)
    # statistical, exclude only: no reward this round, no slash
    TRUST = 64  # cosine with the operator's reference update too low
    UNEXPLAINED = 65  # outside the span of the other updates (looks like noise)
    NORM_OUTLIER = 66  # statistical norm test (not the declared bound)
    FREE_RIDER = 67  # (near) zero update
    ROBUST_RULE = 68  # rejected by the pool's robust rule (Multi-Krum, median agreement, …)

    @property
    def verdict(self) -> Verdict:
        """The only verdict this reason may accompany."""
        return verdict_for_reason(int(self))


FIRST_OBJECTIVE, LAST_OBJECTIVE = 1, 63
FIRST_STATISTICAL, LAST_STATISTICAL = 64, 127


def verdict_for_reason(code: int) -> Verdict:
    """The verdict class of reason `code` (0 → Accepted, 1..=63 → Slashed,
    64..=127 → Excluded); raises ValueError for codes the program refuses."""
    if code == Reason.OK:
        return Verdict.ACCEPTED
    if FIRST_OBJECTIVE <= code <= LAST_OBJECTIVE:
        return Verdict.SLASHED
    if FIRST_STATISTICAL <= code <= LAST_STATISTICAL:
        return Verdict.EXCLUDED
    raise ValueError(f"reason {code} belongs to no verdict class (0..=127)")


class RewardPolicy(IntEnum):
    """`Pool.reward_policy`: how the aggregator scores accepted submissions."""

    EQUAL = 0  # accepted participants share the round budget equally
    CONTRIBUTION = 1  # the aggregator's reproducible contribution measure


# Defaults for the windows a pool is created with (seconds). Each may be
# 1..=31,536,000 (one year) on chain.
DEFAULT_REVEAL_DURATION = 300
DEFAULT_EXPIRY_GRACE = 86_400
DEFAULT_CLAIM_WINDOW = 30 * 86_400
