"""Typed views of the program's accounts, decoded through the IDL.

Field names and order follow the IDL (a test checks they match exactly).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar, TypeVar

from solders.pubkey import Pubkey

from client_kit.idl import Idl, IdlCodecError, field_to_cid, load_idl


class AccountDecodeError(ValueError):
    """Account data that is not the expected fedstake account type."""


@dataclass(frozen=True)
class Pool:
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
    join_deadline: int
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
    total_staked: int
    total_slashed: int
    slash_bps: int
    status: str
    bump: int
    vault_bump: int
    created_at: int

    @property
    def task_cid_str(self) -> str:
        return field_to_cid(self.task_cid)

    @property
    def global_model_cid_str(self) -> str:
        return field_to_cid(self.global_model_cid)

    @property
    def reward_balance(self) -> int:
        return self.total_funded + self.total_slashed - self.total_refunded - self.total_paid


@dataclass(frozen=True)
class Participant:
    NAME: ClassVar[str] = "Participant"
    pool: Pubkey
    wallet: Pubkey
    stake: int
    payout_commitment: bytes
    status: str
    accepted_count: int
    rejected_count: int
    reward_accrued: int
    reward_paid: int
    joined_at: int
    bump: int

    @property
    def reward_unpaid(self) -> int:
        return self.reward_accrued - self.reward_paid


@dataclass(frozen=True)
class Submission:
    NAME: ClassVar[str] = "Submission"
    pool: Pubkey
    wallet: Pubkey
    round: int
    update_hash: bytes
    update_cid: bytes
    num_samples: int
    base_model_hash: bytes
    verdict: str
    score: int
    reason: int
    reward: int
    slashed: int
    submitted_at: int
    judged_at: int
    bump: int

    @property
    def update_cid_str(self) -> str:
        return field_to_cid(self.update_cid)


@dataclass(frozen=True)
class Round:
    NAME: ClassVar[str] = "Round"
    pool: Pubkey
    round: int
    opened_at: int
    deadline: int
    base_model_hash: bytes
    global_model_hash: bytes
    global_model_cid: bytes
    eligible_count: int
    submission_count: int
    judged_count: int
    accepted_count: int
    rejected_count: int
    total_score: int
    reward_budget: int
    reward_accrued: int
    finalized: bool
    finalized_at: int
    bump: int

    @property
    def global_model_cid_str(self) -> str:
        return field_to_cid(self.global_model_cid)


ACCOUNT_TYPES: dict[str, type] = {cls.NAME: cls for cls in (Pool, Participant, Submission, Round)}
T = TypeVar("T", Pool, Participant, Submission, Round)


def decode_account(cls: type[T], data: bytes, idl: Idl | None = None) -> T:
    """Decodes `data` as `cls`, checking discriminator and exact length."""
    idl = idl or load_idl()
    disc = idl.account_discriminator(cls.NAME)
    if bytes(data[:8]) != disc:
        raise AccountDecodeError(f"not a {cls.NAME} account (discriminator mismatch)")
    try:
        values, end = idl.decode_fields(idl.type_def(cls.NAME)["fields"], bytes(data), 8)
    except IdlCodecError as exc:
        raise AccountDecodeError(f"{cls.NAME}: {exc}") from exc
    if end != len(data):
        raise AccountDecodeError(f"{cls.NAME}: {len(data) - end} unexpected trailing bytes")
    return cls(**values)


def account_kind(data: bytes, idl: Idl | None = None) -> str | None:
    """Name of the fedstake account type `data` holds, by discriminator."""
    idl = idl or load_idl()
    for name in ACCOUNT_TYPES:
        if bytes(data[:8]) == idl.account_discriminator(name):
            return name
    return None


def as_dict(account: Any) -> dict[str, Any]:
    """JSON-friendly dict: pubkeys as base58, bytes as hex (CIDs as text)."""
    out: dict[str, Any] = {}
    for f in fields(account):
        value = getattr(account, f.name)
        if isinstance(value, Pubkey):
            value = str(value)
        elif isinstance(value, bytes):
            value = field_to_cid(value) if f.name.endswith("_cid") else value.hex()
        out[f.name] = value
    return out
