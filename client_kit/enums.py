"""Typed on-chain state: pool and participant statuses, verdicts, judgment reasons.

`PoolStatus`, `ParticipantStatus` and `Verdict` mirror the IDL's enum types
variant for variant: a member's value is the IDL variant name and its position
is the borsh tag (Anchor encodes a unit enum as one u8 index). A test checks
each enum against the IDL, so a program change that adds or renames a variant
fails loudly until the enum here is updated.

`Reason` is the u8 `reason` a judgment carries (the IDL types it as a plain
u8). Codes are grouped by what they allow the aggregator to do:

    0         OK           accepted
    1..63     objective    a fault anyone can reproduce from the stored bytes and
                           the chain (hash mismatch, malformed bytes, non-finite
                           values, wrong shapes); the slashable class
    64..127   statistical  the robust rule's doubt (outlier, not selected, ...);
                           excludes from a round's reward, never slashes
    128..255  reserved

Codes are stable: add new ones, never renumber.
"""

from __future__ import annotations

from enum import Enum, IntEnum, StrEnum

from client_kit.errors import FedstakeError


class UnknownVariant(FedstakeError, ValueError):
    """A borsh enum tag or name outside the enum's variants."""


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
    """`Pool.status`: Open → Training → Finished, or Cancelled while Open."""

    OPEN = "Open"
    TRAINING = "Training"
    FINISHED = "Finished"
    CANCELLED = "Cancelled"


class ParticipantStatus(IdlEnum):
    """`Participant.status`."""

    ACTIVE = "Active"
    SLASHED = "Slashed"
    EXITED = "Exited"


class Verdict(IdlEnum):
    """`Submission.verdict` (and the u8 `verdict` of `SubmissionJudged`, by tag)."""

    PENDING = "Pending"
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"


#: IDL type name → Python enum; the decoders and the IDL test use this table.
IDL_ENUMS: dict[str, type[IdlEnum]] = {
    "PoolStatus": PoolStatus,
    "ParticipantStatus": ParticipantStatus,
    "Verdict": Verdict,
}


class ReasonKind(Enum):
    """What a reason code allows: see the module docstring for the ranges."""

    OK = "ok"
    OBJECTIVE = "objective"
    STATISTICAL = "statistical"
    RESERVED = "reserved"


class Reason(IntEnum):
    """Why a submission was judged the way it was; the value is the on-chain u8.

    Codes no member names (a newer aggregator's, or a foreign one's) still
    decode, as members named `CODE_<n>`, so reading a round never fails on them.
    """

    OK = 0
    # objective, reproducible from the bytes and the chain (1..63)
    HASH = 1  # fetched bytes do not match the on-chain update_hash, or cannot be fetched
    MALFORMED = 2  # bytes are not canonical tensor bytes
    SHAPE = 3  # tensor names or shapes differ from the base model
    DTYPE = 4  # a tensor is not float32
    NAN = 5  # NaN or Inf somewhere in the update
    SAMPLES = 6  # num_samples is not a positive integer
    # statistical, the robust rule's judgment (64..127)
    NORM = 64  # update norm far above the round's median norm
    FREE_RIDER = 65  # (near) zero update: the base model sent back
    KRUM = 66  # not among the Multi-Krum selection
    TRUST = 67  # cosine with the pool's reference update at or below the threshold
    OUTLIER = 68  # disagrees with the coordinate-wise robust aggregate
    UNEXPLAINED = 69  # not in the span of the other updates: looks like random noise

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
        if self.value < 64:
            return ReasonKind.OBJECTIVE
        if self.value < 128:
            return ReasonKind.STATISTICAL
        return ReasonKind.RESERVED

    @property
    def code(self) -> str:
        """Short machine-readable name used in logs and verdicts (`"hash"`, `"krum"`)."""
        return self.name.lower()

    @classmethod
    def from_code(cls, code: str) -> Reason:
        """The reason named `code` (as `.code` gives it); `UnknownVariant` otherwise."""
        try:
            return cls[code.upper()]
        except KeyError:
            raise UnknownVariant(f"no reason named {code!r}") from None
