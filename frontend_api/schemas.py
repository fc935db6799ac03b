"""Response models of the REST API, with the unit of every number.

Field names are the program's (the IDL's), so the API, the chain and the docs
use one vocabulary; each number's description ends with its unit in brackets
and carries `x-unit` (see `frontend_api.units`). Hashes are lowercase hex,
addresses base58, CIDs text ("" while unset). Each `*_out` function turns a
typed `client_kit.accounts` state into its model.
"""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from solders.pubkey import Pubkey

from client_kit.accounts import Participant, Pool, Round, Submission, as_dict
from client_kit.enums import ParticipantStatus, PoolStatus, RewardPolicy, Verdict
from frontend_api.feed.frames import (
    CURSOR_PATTERN,
    HEX32_PATTERN,
    PUBKEY_PATTERN,
    ReasonClass,
    ReasonCode,
    ReasonName,
)
from frontend_api.runtime import Evaluation, Receipt
from frontend_api.units import bps, count, lamports, seconds, unix_seconds

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
Address = Field(pattern=PUBKEY_PATTERN, description="Base58 address.")


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorOut(Out):
    """A named error: `error` is the error's name in snake case (`pool_not_found`)."""

    error: str = Field(examples=["pool_not_found"])
    detail: str


class Page(Out, Generic[T]):
    """One page of a list, in the list's stable order."""

    items: list[T]
    total: int = count("Items in the whole list")
    offset: int = count("Index of the first item of this page")
    limit: int = count("Most items a page holds")


class EvaluationOut(Out):
    """The operator's evaluation of a round's global model (off chain, from the feed)."""

    accuracy: float = Field(ge=0, le=1, description="Test accuracy [fraction 0..1]")
    loss: float = Field(ge=0, description="Mean test cross-entropy [nats per example]")
    samples: int = count("Test examples")
    global_model_hash: str = Field(pattern=HEX32_PATTERN, description="Model evaluated (hex).")
    cursor: str = Field(pattern=CURSOR_PATTERN, description="Where it was on the bus.")


class PoolOut(Out):
    """A pool: its terms, its clock and its books."""

    address: str = Address
    organization: str = Address
    aggregator: str = Field(pattern=PUBKEY_PATTERN, description="Key that judges and finalizes.")
    pool_id: int = Field(ge=0, description="The organization's pool number (u64).")
    status: PoolStatus
    task_cid: str = Field(description="CID of the task package.")
    global_model_hash: str = Field(description="Current global model's SHA-256 (hex).")
    global_model_cid: str = Field(description="Current global model's CID.")
    round: int = Field(ge=0, description="Current round (0 before training).")
    max_rounds: int = count("Rounds the pool runs")
    round_deadline: int = unix_seconds("Current round's submission deadline")
    round_duration: int = seconds("Length of a round's submission (commitment) phase")
    reveal_duration: int = seconds("Length of a round's reveal phase")
    join_deadline: int = unix_seconds("Last moment to join")
    expiry_grace: int = seconds("Time after a deadline before anyone may expire the pool")
    claim_window: int = seconds("Time after the pool ends in which participants act themselves")
    min_stake: int = lamports("Least stake to join")
    max_participants: int = count("Participants allowed")
    participant_count: int = count("Participants who ever joined")
    live_participants: int = count("Participant accounts still open")
    active_participants: int = count("Participants neither slashed nor exited")
    reward_per_round: int = lamports("Reward budget of each round")
    total_funded: int = lamports("Funded so far")
    total_refunded: int = lamports("Funding returned to the organization")
    total_accrued: int = lamports("Rewards credited to participants")
    total_paid: int = lamports("Rewards paid out")
    total_forfeited: int = lamports("Rewards forfeited (unclaimed past the claim window)")
    total_staked: int = lamports("Stake held now")
    total_slashed: int = lamports("Stake slashed into the reward balance")
    reward_balance: int = lamports(
        "Reward lamports the pool holds: funded + slashed − refunded − paid"
    )
    rewards_owed: int = lamports("Credited to participants, neither paid nor forfeited")
    reclaimable: int = lamports("What the organization may reclaim once the pool ended")
    slash_bps: int = bps("Share of the stake a slash takes")
    reward_policy: RewardPolicy = Field(description="How accepted submissions are scored.")
    created_at: int = unix_seconds("Creation time")
    ended_at: int = unix_seconds("When it finished, was cancelled or expired (0: not yet)")


class RoundOut(Out):
    """One round: its window, its counts, the global model it produced (the
    provenance chain: round r+1 updates cite round r's global hash), and the
    operator's evaluation of that model when one was published."""

    address: str = Address
    pool: str = Address
    round: int = Field(ge=1, description="Round number.")
    opened_at: int = unix_seconds("When the round opened")
    deadline: int = unix_seconds("Submission (commitment) deadline")
    reveal_deadline: int = unix_seconds("Reveal deadline")
    expires_at: int = unix_seconds("From then on anyone may expire the round")
    base_model_hash: str = Field(description="Global model the round's updates start from (hex).")
    global_model_hash: str = Field(description="Global model it produced (hex; zeros until then).")
    global_model_cid: str = Field(description="CID of that model (empty until finalized).")
    record_cid: str = Field(
        description="CID of the round record: every input by hash and CID, every verdict "
        "(empty until finalized; `fedstake verify-round` recomputes the round from it)."
    )
    eligible_count: int = count("Participants eligible when it opened")
    submission_count: int = count("Updates committed")
    revealed_count: int = count("Commitments revealed")
    judged_count: int = count("Updates judged")
    accepted_count: int = count("Updates accepted")
    excluded_count: int = count("Updates excluded (statistical doubt: no reward, no slash)")
    slashed_count: int = count("Updates slashed (objective fault)")
    total_score: int = bps("Sum of the accepted scores")
    reward_budget: int = lamports("Reward of the round")
    reward_accrued: int = lamports("Reward credited to accepted updates")
    finalized: bool
    finalized_at: int = unix_seconds("When it was finalized (0: not yet)")
    evaluation: EvaluationOut | None = Field(
        description="Test accuracy and loss from the operator's `RoundEvaluated` event."
    )


class ParticipantOut(Out):
    """A participant: stake, status, verdict counts and reward books."""

    address: str = Address
    pool: str = Address
    wallet: str = Field(pattern=PUBKEY_PATTERN, description="The trainer's signing key.")
    stake: int = lamports("Stake held (after any slash)")
    payout_commitment: str = Field(description="sha256(payout_wallet ‖ salt) (hex).")
    status: ParticipantStatus
    accepted_count: int = count("Updates accepted")
    excluded_count: int = count("Updates excluded")
    slashed_count: int = count("Updates slashed")
    reward_accrued: int = lamports("Rewards credited")
    reward_paid: int = lamports("Rewards paid to the committed wallet")
    reward_unpaid: int = lamports("Credited and not yet paid")
    joined_at: int = unix_seconds("When it joined")
    last_round: int = Field(ge=0, description="Last round committed to, 0: none [round number].")


class SubmissionOut(Out):
    """One committed update and its verdict (a receipt once judged)."""

    address: str = Address
    pool: str = Address
    wallet: str = Address
    round: int = Field(ge=1, description="Round number.")
    update_commitment: str = Field(description="sha256(update_hash ‖ wallet), committed (hex).")
    revealed: bool = Field(description="Whether the update's hash and CID were revealed.")
    update_hash: str | None = Field(
        description="SHA-256 of the canonical update bytes (hex; None until revealed)."
    )
    update_cid: str | None = Field(
        description="Where the update's bytes are (None until revealed)."
    )
    num_samples: int = count("Training examples the participant declared")
    base_model_hash: str = Field(description="Global model the update starts from (hex).")
    verdict: Verdict = Field(description="Pending, or the class: Accepted, Excluded, Slashed.")
    reason: ReasonName
    reason_code: ReasonCode
    reason_class: ReasonClass
    score: int = bps("Share of the round's reward")
    reward: int = lamports("Reward credited for this update")
    slashed: int = lamports("Stake slashed for this update")
    submitted_at: int = unix_seconds("When it was committed")
    revealed_at: int = unix_seconds("When it was revealed (0: not yet)")
    judged_at: int = unix_seconds("When it was judged (0: not yet)")
    judge_signature: str | None = Field(
        description="The `judge_submission` transaction's signature, if this server saw it."
    )


class HealthOut(Out):
    """Whether the API follows the chain, and where its bus is."""

    status: Literal["ok", "syncing"]
    backend: Literal["embedded", "rpc"]
    program_id: str = Address
    watcher_ready: bool
    bus_head: str | None = Field(description="Newest bus position (`slot:tx:log`).")
    bus_published: int = count("Items published on the bus")
    feed_clients: int = count("Bus subscriptions (feed clients and internal readers)")
    operator: bool = Field(description="Whether the operator runtime runs in this process.")
    payout_relay: bool = Field(description="Whether `/ws/payout` relays reveals.")


def _served(model: type[M], state: object, **extra: object) -> M:
    """`model` from an account: every field the model shares with it by name,
    written as `client_kit.accounts.as_dict` writes it (base58 addresses, hex
    hashes, CID text, enum values, reason code names), then `extra`."""
    values = {k: v for k, v in as_dict(state).items() if k in model.model_fields}
    return model(**(values | extra))


def pool_out(key: Pubkey, state: Pool) -> PoolOut:
    return _served(
        PoolOut,
        state,
        address=str(key),
        reward_balance=state.reward_balance,
        rewards_owed=state.rewards_owed,
        reclaimable=state.reclaimable,
    )


def evaluation_out(found: Evaluation | None) -> EvaluationOut | None:
    if found is None:
        return None
    return _served(EvaluationOut, found.event, cursor=str(found.cursor))


def round_out(key: Pubkey, state: Round, evaluation: Evaluation | None) -> RoundOut:
    return _served(RoundOut, state, address=str(key), evaluation=evaluation_out(evaluation))


def participant_out(key: Pubkey, state: Participant) -> ParticipantOut:
    return _served(ParticipantOut, state, address=str(key), reward_unpaid=state.reward_unpaid)


def submission_out(key: Pubkey, state: Submission, receipt: Receipt | None) -> SubmissionOut:
    hidden = {} if state.revealed else {"update_hash": None, "update_cid": None}
    return _served(
        SubmissionOut,
        state,
        address=str(key),
        reason_code=int(state.reason),
        reason_class=state.reason.kind.value,
        judge_signature=None if receipt is None else receipt.signature,
        **hidden,
    )


def page_of(items: list[T], offset: int, limit: int) -> dict[str, object]:
    """The fields of a `Page` of `items[offset : offset + limit]`."""
    return {
        "items": items[offset : offset + limit],
        "total": len(items),
        "offset": offset,
        "limit": limit,
    }
