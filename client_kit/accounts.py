"""Typed views of the program's accounts, decoded through the IDL.

Field names and order follow the IDL (a test checks they match exactly).
Enum fields decode to the enums of `client_kit.enums`, the judgment reason to
`Reason`. `account_filters` turns field values into the memcmp filters a
`program_accounts` query takes, with offsets read from the IDL, so listing a
pool's submissions of one round asks the chain for exactly those accounts.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import Enum
from typing import Any, ClassVar, TypeVar

from solders.pubkey import Pubkey

from client_kit.enums import (
    ParticipantStatus,
    PoolStatus,
    Reason,
    RewardPolicy,
    UnknownVariant,
    Verdict,
)
from client_kit.errors import FedstakeError
from client_kit.gateway.filters import AccountFilter, DataSize, Memcmp
from client_kit.idl import Idl, IdlCodecError, field_to_cid, load_idl


class AccountDecodeError(FedstakeError, ValueError):
    """Account data that is not the expected fedstake account type."""


@dataclass(frozen=True)
class Pool:
    """`Pool` — seeds `["pool", organization, pool_id u64 LE]`. Amounts in lamports,
    times in unix seconds, `slash_bps` in basis points of the stake."""

    NAME: ClassVar[str] = "Pool"
    organization: Pubkey
    aggregator: Pubkey
    pool_id: int
    task_cid: bytes
    global_model_hash: bytes
    global_model_cid: bytes
    round: int
    max_rounds: int
    round_deadline: int
    round_duration: int
    reveal_duration: int
    join_deadline: int
    expiry_grace: int
    claim_window: int
    min_stake: int
    max_participants: int
    participant_count: int
    live_participants: int
    active_participants: int
    reward_per_round: int
    total_funded: int
    total_refunded: int
    total_accrued: int
    total_paid: int
    total_forfeited: int
    total_staked: int
    total_slashed: int
    slash_bps: int
    reward_policy: RewardPolicy
    status: PoolStatus
    bump: int
    created_at: int
    ended_at: int
    first_round_bump: int

    @property
    def task_cid_str(self) -> str:
        return field_to_cid(self.task_cid)

    @property
    def global_model_cid_str(self) -> str:
        return field_to_cid(self.global_model_cid)

    @property
    def reward_balance(self) -> int:
        """The pool's lamports that are neither stake nor rent (the program's
        `reward_balance`): funded + slashed − refunded − paid."""
        return self.total_funded + self.total_slashed - self.total_refunded - self.total_paid

    @property
    def rewards_owed(self) -> int:
        """Rewards credited to participants, neither paid nor forfeited."""
        return self.total_accrued - self.total_paid - self.total_forfeited

    @property
    def reclaimable(self) -> int:
        """What `reclaim_funding` would send the organization once the pool ended."""
        return self.reward_balance - self.rewards_owed

    @property
    def ended(self) -> bool:
        """Finished, Cancelled or Expired (`ended_at` is set)."""
        return self.status.ended


@dataclass(frozen=True)
class Participant:
    """`Participant` — seeds `["participant", pool, wallet]`; amounts in lamports."""

    NAME: ClassVar[str] = "Participant"
    pool: Pubkey
    wallet: Pubkey
    stake: int
    payout_commitment: bytes
    status: ParticipantStatus
    accepted_count: int
    excluded_count: int
    slashed_count: int
    reward_accrued: int
    reward_paid: int
    joined_at: int
    bump: int
    last_round: int  # the last round it committed to (0: none)

    @property
    def reward_unpaid(self) -> int:
        return self.reward_accrued - self.reward_paid


@dataclass(frozen=True)
class Submission:
    """`Submission` — seeds `["submission", pool, round u32 LE, wallet]`.
    `update_commitment` = sha256(update_hash ‖ wallet) from the commitment;
    `update_hash` and `update_cid` are zero until `revealed`."""

    NAME: ClassVar[str] = "Submission"
    pool: Pubkey
    wallet: Pubkey
    round: int
    update_commitment: bytes
    update_hash: bytes
    update_cid: bytes
    num_samples: int
    base_model_hash: bytes
    verdict: Verdict
    score: int
    reason: Reason
    reward: int
    slashed: int
    revealed: bool
    submitted_at: int
    revealed_at: int
    judged_at: int
    bump: int

    @property
    def update_cid_str(self) -> str:
        return field_to_cid(self.update_cid)


@dataclass(frozen=True)
class Round:
    """`Round` — seeds `["round", pool, round u32 LE]`; one link of the model provenance chain."""

    NAME: ClassVar[str] = "Round"
    pool: Pubkey
    round: int
    opened_at: int
    deadline: int
    reveal_deadline: int
    expires_at: int
    base_model_hash: bytes
    global_model_hash: bytes
    global_model_cid: bytes
    record_cid: bytes
    eligible_count: int
    submission_count: int
    revealed_count: int
    judged_count: int
    accepted_count: int
    excluded_count: int
    slashed_count: int
    total_score: int
    reward_budget: int
    reward_accrued: int
    finalized: bool
    finalized_at: int
    bump: int

    @property
    def global_model_cid_str(self) -> str:
        return field_to_cid(self.global_model_cid)

    @property
    def record_cid_str(self) -> str:
        """The CID of the operator's round record ("" until finalized)."""
        return field_to_cid(self.record_cid)

    def submissions_closed(self, now: int) -> bool:
        """The commitment phase is over (program's `Round::submissions_closed`)."""
        return now >= self.deadline or self.submission_count >= self.eligible_count

    def reveals_closed(self, now: int) -> bool:
        """The reveal phase is over (program's `Round::reveals_closed`)."""
        return now >= self.reveal_deadline or (
            self.submissions_closed(now) and self.revealed_count >= self.submission_count
        )


ACCOUNT_TYPES: dict[str, type] = {cls.NAME: cls for cls in (Pool, Participant, Submission, Round)}
T = TypeVar("T", Pool, Participant, Submission, Round)


def decode_account(cls: type[T], data: bytes, idl: Idl | None = None) -> T:
    """Decodes `data` as `cls`, checking discriminator and exact length.

    Raises `AccountDecodeError` for anything else (wrong type, truncated data,
    bad bool or enum byte, trailing bytes).
    """
    idl = idl or load_idl()
    disc = idl.account_discriminator(cls.NAME)
    if bytes(data[:8]) != disc:
        raise AccountDecodeError(f"not a {cls.NAME} account (discriminator mismatch)")
    try:
        values = idl.decode_struct(cls.NAME, bytes(data), 8, typed=True)
        return cls(**values)
    except (IdlCodecError, UnknownVariant) as exc:
        raise AccountDecodeError(f"{cls.NAME}: {exc}") from exc


def account_kind(data: bytes, idl: Idl | None = None) -> str | None:
    """Name of the fedstake account type `data` holds, by discriminator."""
    idl = idl or load_idl()
    for name in ACCOUNT_TYPES:
        if bytes(data[:8]) == idl.account_discriminator(name):
            return name
    return None


def account_size(cls: type, idl: Idl | None = None) -> int:
    """Data length in bytes of a `cls` account (discriminator included)."""
    idl = idl or load_idl()
    return 8 + sum(slot.size for slot in idl.layout(cls.NAME).values())


def account_filters(cls: type, idl: Idl | None = None, **equal: Any) -> list[AccountFilter]:
    """Filters matching `cls` accounts whose fields equal `equal` (e.g.
    `pool=key, round=3`): the discriminator, the exact data size, and one
    memcmp per field at its IDL offset. Raises `IdlCodecError` for an unknown
    field or a value that does not fit it."""
    idl = idl or load_idl()
    layout = idl.layout(cls.NAME)
    types = {f["name"]: f["type"] for f in idl.type_def(cls.NAME)["fields"]}
    out: list[AccountFilter] = [
        Memcmp(0, idl.account_discriminator(cls.NAME)),
        DataSize(account_size(cls, idl)),
    ]
    for name, value in equal.items():
        if name not in layout:
            raise IdlCodecError(f"{cls.NAME} has no field {name!r}")
        out.append(Memcmp(layout[name].offset, idl.encode(types[name], value)))
    return out


def pool_filters(
    pool: Pubkey, organization: Pubkey, pool_id: int, idl: Idl | None = None
) -> list[list[AccountFilter]]:
    """Filter lists that together select one pool's accounts (an account
    matching any one list belongs to the pool): the Pool account by its seeds
    (`organization`, `pool_id`), and each account type with a `pool` field by
    that field. The vault (`["vault", pool]`) holds no data and matches none."""
    idl = idl or load_idl()
    lists = [account_filters(Pool, idl, organization=organization, pool_id=pool_id)]
    for cls in ACCOUNT_TYPES.values():
        if cls is not Pool and "pool" in idl.layout(cls.NAME):
            lists.append(account_filters(cls, idl, pool=pool))
    return lists


def as_dict(account: Any) -> dict[str, Any]:
    """JSON-friendly dict: pubkeys as base58, bytes as hex (CIDs as text), enums by name."""
    out: dict[str, Any] = {}
    for f in fields(account):
        value = getattr(account, f.name)
        if isinstance(value, Pubkey):
            value = str(value)
        elif isinstance(value, bytes):
            value = field_to_cid(value) if f.name.endswith("_cid") else value.hex()
        elif isinstance(value, Reason):
            value = value.code
        elif isinstance(value, Enum):
            value = value.value
        out[f.name] = value
    return out
