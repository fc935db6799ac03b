"""Program events as typed dataclasses, parsed from transaction logs.

The program emits each event Anchor's way: `sol_log_data(discriminator ‖
borsh fields)`, which the runtime logs as `Program data: <base64>`. There is
one dataclass per IDL event, with the IDL's field names in the IDL's order (a
test checks every IDL event has its class). Verdicts and reasons decode to
`client_kit.enums` members.

Only lines logged while fedstake itself is the running program count: the
parser follows the runtime's `Program <id> invoke [n]` / `Program <id>
success|failed` lines as a stack, so another program that logs bytes looking
like a fedstake event (directly, or around a CPI into fedstake) is ignored.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from solders.pubkey import Pubkey

from client_kit.enums import Reason, RewardPolicy, UnknownVariant, Verdict
from client_kit.errors import FedstakeError
from client_kit.idl import Idl, IdlCodecError, load_idl


class EventDecodeError(FedstakeError, ValueError):
    """Bytes logged by the program with a fedstake event's discriminator that
    do not decode as that event (an IDL/program mismatch or corrupt logs)."""


@dataclass(frozen=True)
class ProgramEvent:
    """Base of every event; `name` is the IDL event name."""

    NAME: ClassVar[str] = ""

    @property
    def name(self) -> str:
        return self.NAME

    @property
    def fields(self) -> dict[str, Any]:
        """The event's fields by IDL name."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


@dataclass(frozen=True)
class PoolCreated(ProgramEvent):
    """An organization created `pool` (amounts in lamports)."""

    NAME: ClassVar[str] = "PoolCreated"
    pool: Pubkey
    organization: Pubkey
    aggregator: Pubkey
    pool_id: int
    max_rounds: int
    reward_per_round: int  # lamports
    reward_policy: RewardPolicy


@dataclass(frozen=True)
class PoolFunded(ProgramEvent):
    """`funder` moved `amount` lamports into the pool."""

    NAME: ClassVar[str] = "PoolFunded"
    pool: Pubkey
    funder: Pubkey
    amount: int  # lamports
    total_funded: int  # lamports


@dataclass(frozen=True)
class ParticipantJoined(ProgramEvent):
    """`wallet` staked `stake` lamports and joined."""

    NAME: ClassVar[str] = "ParticipantJoined"
    pool: Pubkey
    wallet: Pubkey
    stake: int  # lamports
    participant_count: int


@dataclass(frozen=True)
class TrainingStarted(ProgramEvent):
    """Joining closed; round `round` takes commitments until `deadline`,
    reveals until `reveal_deadline`, and may be expired from `expires_at`."""

    NAME: ClassVar[str] = "TrainingStarted"
    pool: Pubkey
    round: int
    deadline: int  # unix seconds
    reveal_deadline: int  # unix seconds
    expires_at: int  # unix seconds


@dataclass(frozen=True)
class UpdateSubmitted(ProgramEvent):
    """`wallet` committed to its update for `round`: `update_commitment` =
    sha256(update_hash ‖ wallet); the hash itself stays private until revealed."""

    NAME: ClassVar[str] = "UpdateSubmitted"
    pool: Pubkey
    wallet: Pubkey
    round: int
    update_commitment: bytes
    num_samples: int


@dataclass(frozen=True)
class UpdateRevealed(ProgramEvent):
    """`wallet` opened its commitment for `round`: the update's hash and where
    its bytes are stored."""

    NAME: ClassVar[str] = "UpdateRevealed"
    pool: Pubkey
    wallet: Pubkey
    round: int
    update_hash: bytes
    update_cid: bytes
    revealed_count: int


@dataclass(frozen=True)
class SubmissionJudged(ProgramEvent):
    """The aggregator judged `wallet`'s submission for `round`."""

    NAME: ClassVar[str] = "SubmissionJudged"
    pool: Pubkey
    wallet: Pubkey
    round: int
    verdict: Verdict
    score: int  # bps of the round's reward
    reason: Reason
    reward: int  # lamports
    slashed: int  # lamports


@dataclass(frozen=True)
class RoundFinalized(ProgramEvent):
    """Round `round` closed with a new global model hash; the next round (if
    not `finished`) takes commitments until `next_deadline`."""

    NAME: ClassVar[str] = "RoundFinalized"
    pool: Pubkey
    round: int
    global_model_hash: bytes
    accepted_count: int
    excluded_count: int
    slashed_count: int
    reward_accrued: int  # lamports
    finished: bool
    next_deadline: int  # unix seconds (unchanged when finished)


@dataclass(frozen=True)
class RewardClaimed(ProgramEvent):
    """`amount` lamports went to the committed payout wallet."""

    NAME: ClassVar[str] = "RewardClaimed"
    pool: Pubkey
    wallet: Pubkey
    payout_wallet: Pubkey
    amount: int  # lamports


@dataclass(frozen=True)
class StakeWithdrawn(ProgramEvent):
    """`wallet` took back `amount` lamports of stake (and the account's rent if
    `closed`; an account with reward unpaid stays open until claimed or settled)."""

    NAME: ClassVar[str] = "StakeWithdrawn"
    pool: Pubkey
    wallet: Pubkey
    amount: int  # lamports
    closed: bool


@dataclass(frozen=True)
class PoolCancelled(ProgramEvent):
    """The organization cancelled the pool; `refunded` lamports returned."""

    NAME: ClassVar[str] = "PoolCancelled"
    pool: Pubkey
    refunded: int  # lamports


@dataclass(frozen=True)
class SubmissionClosed(ProgramEvent):
    """A judged submission's account was closed (rent back to `wallet`)."""

    NAME: ClassVar[str] = "SubmissionClosed"
    pool: Pubkey
    wallet: Pubkey
    round: int


@dataclass(frozen=True)
class PoolClosed(ProgramEvent):
    """`closer` closed the pool; `returned` lamports went to the organization."""

    NAME: ClassVar[str] = "PoolClosed"
    pool: Pubkey
    closer: Pubkey
    returned: int  # lamports


@dataclass(frozen=True)
class RoundExpired(ProgramEvent):
    """Round `round` passed `expires_at` unfinalized; the pool is Expired."""

    NAME: ClassVar[str] = "RoundExpired"
    pool: Pubkey
    round: int
    expires_at: int  # unix seconds
    ended_at: int  # unix seconds


@dataclass(frozen=True)
class PoolExpired(ProgramEvent):
    """An Open pool passed `join_deadline + expiry_grace`; it is Expired."""

    NAME: ClassVar[str] = "PoolExpired"
    pool: Pubkey
    join_deadline: int  # unix seconds
    ended_at: int  # unix seconds


@dataclass(frozen=True)
class FundingReclaimed(ProgramEvent):
    """`amount` lamports nobody was owed went back to the organization."""

    NAME: ClassVar[str] = "FundingReclaimed"
    pool: Pubkey
    organization: Pubkey
    amount: int  # lamports
    total_refunded: int  # lamports


@dataclass(frozen=True)
class ParticipantSettled(ProgramEvent):
    """After the claim window `wallet`'s account was closed: `stake_returned`
    lamports went to it, `forfeited` lamports of unpaid reward were forfeited."""

    NAME: ClassVar[str] = "ParticipantSettled"
    pool: Pubkey
    wallet: Pubkey
    stake_returned: int  # lamports
    forfeited: int  # lamports


EVENT_TYPES: dict[str, type[ProgramEvent]] = {
    cls.NAME: cls
    for cls in (
        PoolCreated,
        PoolFunded,
        ParticipantJoined,
        TrainingStarted,
        UpdateSubmitted,
        UpdateRevealed,
        SubmissionJudged,
        RoundFinalized,
        RewardClaimed,
        StakeWithdrawn,
        PoolCancelled,
        SubmissionClosed,
        PoolClosed,
        RoundExpired,
        PoolExpired,
        FundingReclaimed,
        ParticipantSettled,
    )
}


def parse_event(payload: bytes, idl: Idl | None = None) -> ProgramEvent | None:
    """Decodes one `sol_log_data` payload of the fedstake program.

    Returns None when the discriminator is no fedstake event's; raises
    `EventDecodeError` when it is one but the bytes do not decode exactly.
    """
    idl = idl or load_idl()
    for entry in idl.raw["events"]:
        if bytes(payload[:8]) == bytes(entry["discriminator"]):
            name = entry["name"]
            cls = EVENT_TYPES.get(name)
            if cls is None:
                raise EventDecodeError(f"event {name} has no typed class in this client")
            try:
                return cls(**idl.decode_struct(name, bytes(payload), 8, typed=True))
            except (IdlCodecError, UnknownVariant) as exc:
                raise EventDecodeError(f"{name}: {exc}") from exc
    return None


def events_from_logs(
    logs: list[str], program_id: Pubkey | None = None, idl: Idl | None = None
) -> list[ProgramEvent]:
    """Every fedstake event in a transaction's log messages, in order.

    Counts only `Program data:` lines logged while `program_id` (default: the
    IDL's address) is the innermost running program. Raises `EventDecodeError`
    for such a line that is not base64 or not a decodable fedstake event.
    """
    idl = idl or load_idl()
    ours = str(program_id or idl.address)
    stack: list[str] = []
    out: list[ProgramEvent] = []
    for line in logs:
        words = line.split()
        if len(words) >= 3 and words[0] == "Program" and words[2] == "invoke":
            stack.append(words[1])
        elif len(words) >= 3 and words[0] == "Program" and words[2] in ("success", "failed:"):
            if stack and stack[-1] == words[1]:
                stack.pop()
        elif line.startswith("Program data: ") and stack and stack[-1] == ours:
            for chunk in words[2:]:
                try:
                    payload = base64.b64decode(chunk, validate=True)
                except (binascii.Error, ValueError) as exc:
                    raise EventDecodeError(f"program data {chunk[:16]!r} is not base64") from exc
                event = parse_event(payload, idl)
                if event is not None:
                    out.append(event)
    return out
