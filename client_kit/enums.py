"""Typed on-chain state and the protocol's codes: pool and participant
statuses, reward policies, verdicts and judgment reasons — one place.

`PoolStatus`, `ParticipantStatus`, `RewardPolicy` and `Verdict` mirror the
IDL's enum types variant for variant: a member's value is the IDL variant name
and its position is the borsh tag (Anchor encodes a unit enum as one u8
index; instruction arguments that take one are plain u8s, sent as `.tag`). A
test checks each enum against the IDL, so a program change that adds or
renames a variant fails loudly until the enum here is updated.

`Reason` is the u8 `reason` a judgment carries (the IDL types it as a plain
u8). Its range fixes the verdict it may accompany; the program enforces the
pairing (`InvalidVerdict` otherwise, see docs/PROTOCOL.md):

    0         OK           Accepted (the only reason an accepted submission has)
    1..63     objective    Slashed: a fault anyone can reproduce from the stored
                           bytes and the chain (hash mismatch, malformed bytes,
                           non-finite values, wrong shapes, over the declared
                           norm bound, never revealed); score 0
    64..127   statistical  Excluded: the robust rule's doubt; no reward this
                           round, no slash, the participant stays Active; score 0
    128..255  reserved     refused by the program

Codes are stable: add new ones in their range, never renumber.
"""

from __future__ import annotations

from enum import Enum, IntEnum, StrEnum

from client_kit.errors import FedstakeError


class UnknownVariant(FedstakeError, ValueError):
    """A borsh enum tag or name outside the enum's variants, or a reason code
    outside every verdict class."""


class IdlEnum(StrEnum):
    """An enum whose members are an IDL enum type's variants, in tag order.

    Members are strings equal to the variant name, so they print and serialize
    as the IDL spells them (`"Training"`); compare them with members, not text.
    """

    @classmethod
    def from_tag(cls, tag: int) -> IdlEnum:
        """The member with borsh tag `tag`; `UnknownVariant` otherwise."""
        members = list(cls)
        if not 0 <= tag < len(members):
            raise UnknownVariant(f"{cls.__name__}: tag {tag} out of range")
        return members[tag]

    @classmethod
    def from_name(cls, name: str) -> IdlEnum:
        """The member whose IDL variant name is `name`; `UnknownVariant` otherwise."""
        try:
            return cls(name)
        except ValueError:
            raise UnknownVariant(f"{cls.__name__}: no variant {name!r}") from None

    @property
    def tag(self) -> int:
        """Borsh tag: the variant's index in the IDL."""
        return list(type(self)).index(self)


class PoolStatus(IdlEnum):
    """`Pool.status`: Open → Training → Finished; Cancelled (by the organization,
    while Open) or Expired (by anyone: an Open pool past join_deadline +
    expiry_grace, or a Training pool whose round passed its expires_at)."""

    OPEN = "Open"
    TRAINING = "Training"
    FINISHED = "Finished"
    CANCELLED = "Cancelled"
    EXPIRED = "Expired"

    @property
    def ended(self) -> bool:
        """Finished, Cancelled or Expired: the exits (withdraw, reclaim, settle) are open."""
        return self in (PoolStatus.FINISHED, PoolStatus.CANCELLED, PoolStatus.EXPIRED)


class RewardPolicy(IdlEnum):
    """`Pool.reward_policy`: how the aggregator scores accepted submissions.

    EQUAL: accepted participants share a round's budget equally. CONTRIBUTION:
    pro rata to the aggregator's reproducible contribution measure. The
    program records the policy and enforces only the cap (scores of a round
    sum to at most 10,000 bps).
    """

    EQUAL = "Equal"
    CONTRIBUTION = "Contribution"

    @classmethod
    def parse(cls, value: RewardPolicy | str | int) -> RewardPolicy:
        """From a member, a name in any case ("equal", "Contribution") or a tag;
        `UnknownVariant` otherwise."""
        if isinstance(value, cls):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return cls.from_tag(value)  # type: ignore[return-value]
        if isinstance(value, str):
            for member in cls:
                if member.value.lower() == value.lower():
                    return member
        raise UnknownVariant(f"{cls.__name__}: no policy {value!r} (equal, contribution)")


class ParticipantStatus(IdlEnum):
    """`Participant.status`: Active; Slashed (may not submit again); Exited
    (stake withdrawn, account kept until its reward is claimed or settled)."""

    ACTIVE = "Active"
    SLASHED = "Slashed"
    EXITED = "Exited"


class Verdict(IdlEnum):
    """`Submission.verdict` and `SubmissionJudged.verdict`; `judge_submission`
    takes the tag as its u8 `verdict`."""

    PENDING = "Pending"
    ACCEPTED = "Accepted"
    EXCLUDED = "Excluded"
    SLASHED = "Slashed"


#: IDL type name → Python enum; the decoders and the IDL test use this table.
IDL_ENUMS: dict[str, type[IdlEnum]] = {
    "PoolStatus": PoolStatus,
    "RewardPolicy": RewardPolicy,
    "ParticipantStatus": ParticipantStatus,
    "Verdict": Verdict,
}


class ReasonKind(Enum):
    """What a reason code allows: see the module docstring for the ranges."""

    OK = "ok"
    OBJECTIVE = "objective"
    STATISTICAL = "statistical"
    RESERVED = "reserved"


FIRST_OBJECTIVE, LAST_OBJECTIVE = 1, 63
FIRST_STATISTICAL, LAST_STATISTICAL = 64, 127


class Reason(IntEnum):
    """Why a submission was judged the way it was; the value is the on-chain u8.

    Codes no member names (a newer aggregator's, or a foreign one's) still
    decode, as members named `CODE_<n>`, so reading a round never fails on them.
    """

    OK = 0
    # objective, slashable: reproducible from the stored bytes and the chain (1..63)
    HASH_MISMATCH = 1  # bytes received for the revealed CID do not hash to update_hash
    MALFORMED = 2  # not canonical tensor bytes (or a claim the chain would not hold)
    NON_FINITE = 3  # NaN or ±Inf in the update
    SHAPE = 4  # wrong tensor set, shape or dtype
    NORM_BOUND = 5  # norm over the pool's declared bound (task package)
    NOT_REVEALED = 6  # committed, never revealed by the reveal deadline
    DUPLICATE = 7  # encrypted pools: a ciphertext (CID) another submission also revealed
    # statistical, exclude only: the robust rule's doubt (64..127)
    TRUST = 64  # cosine with the operator's reference update too low
    UNEXPLAINED = 65  # outside the span of the other updates (looks like noise)
    NORM_OUTLIER = 66  # statistical norm test (not the declared bound)
    FREE_RIDER = 67  # (near) zero update: the base model sent back
    ROBUST_RULE = 68  # rejected by the pool's robust rule (Multi-Krum, median agreement, …)
    REPLAY = 69  # (near) copy of an update published earlier, or of an earlier commitment

    @classmethod
    def _missing_(cls, value: object) -> Reason | None:
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 255:
            member = int.__new__(cls, value)
            member._name_ = f"CODE_{value}"
            member._value_ = value
            return cls._value2member_map_.setdefault(value, member)  # type: ignore[return-value]
        return None

    @property
    def kind(self) -> ReasonKind:
        """The class of this code (ok, objective, statistical, reserved)."""
        if self.value == 0:
            return ReasonKind.OK
        if self.value <= LAST_OBJECTIVE:
            return ReasonKind.OBJECTIVE
        if self.value <= LAST_STATISTICAL:
            return ReasonKind.STATISTICAL
        return ReasonKind.RESERVED

    @property
    def verdict(self) -> Verdict:
        """The only verdict this reason may accompany (OK → Accepted, objective
        → Slashed, statistical → Excluded); `UnknownVariant` for reserved codes."""
        kind = self.kind
        if kind is ReasonKind.RESERVED:
            raise UnknownVariant(f"reason {self.value} belongs to no verdict class (0..=127)")
        return _VERDICT_OF_KIND[kind]

    @property
    def code(self) -> str:
        """Short machine-readable name used in logs and output (`"hash_mismatch"`)."""
        return self.name.lower()

    @classmethod
    def from_code(cls, code: str) -> Reason:
        """The reason named `code` (as `.code` gives it); `UnknownVariant` otherwise."""
        try:
            return cls[code.upper()]
        except KeyError:
            raise UnknownVariant(f"no reason named {code!r}") from None


_VERDICT_OF_KIND = {
    ReasonKind.OK: Verdict.ACCEPTED,
    ReasonKind.OBJECTIVE: Verdict.SLASHED,
    ReasonKind.STATISTICAL: Verdict.EXCLUDED,
}
