"""Units of the numbers the API serves, said once for the REST models and the feed.

Every integer amount is lamports (1 SOL = 10⁹ lamports), every score and
slash rate basis points (10 000 = 100 %), every time unix seconds from the
cluster clock, every duration seconds. The REST models use the `Field`
helpers; the feed's event frames, generated from `client_kit.events`, look
their fields up in `FIELD_UNITS` by name. Each helper also sets the OpenAPI
extension `x-unit`, so a client generator can read the unit.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

LAMPORTS = "lamports"
BPS = "bps"
UNIX_SECONDS = "unix seconds"
SECONDS = "seconds"
COUNT = "count"
NUMBER = "number"  # identifiers and ordinals (pool id, round number)

#: integer field name → unit, for fields of the program's events and accounts
FIELD_UNITS: dict[str, str] = {
    # lamports
    "amount": LAMPORTS,
    "stake": LAMPORTS,
    "min_stake": LAMPORTS,
    "reward": LAMPORTS,
    "slashed": LAMPORTS,
    "refunded": LAMPORTS,
    "returned": LAMPORTS,
    "forfeited": LAMPORTS,
    "stake_returned": LAMPORTS,
    "reward_per_round": LAMPORTS,
    "reward_budget": LAMPORTS,
    "reward_accrued": LAMPORTS,
    "reward_paid": LAMPORTS,
    "total_funded": LAMPORTS,
    "total_refunded": LAMPORTS,
    "total_accrued": LAMPORTS,
    "total_paid": LAMPORTS,
    "total_forfeited": LAMPORTS,
    "total_staked": LAMPORTS,
    "total_slashed": LAMPORTS,
    # basis points
    "score": BPS,
    "total_score": BPS,
    "slash_bps": BPS,
    # times and durations
    "deadline": UNIX_SECONDS,
    "reveal_deadline": UNIX_SECONDS,
    "expires_at": UNIX_SECONDS,
    "next_deadline": UNIX_SECONDS,
    "join_deadline": UNIX_SECONDS,
    "round_deadline": UNIX_SECONDS,
    "ended_at": UNIX_SECONDS,
    "created_at": UNIX_SECONDS,
    "opened_at": UNIX_SECONDS,
    "finalized_at": UNIX_SECONDS,
    "joined_at": UNIX_SECONDS,
    "submitted_at": UNIX_SECONDS,
    "revealed_at": UNIX_SECONDS,
    "judged_at": UNIX_SECONDS,
    "round_duration": SECONDS,
    "reveal_duration": SECONDS,
    "expiry_grace": SECONDS,
    "claim_window": SECONDS,
    # counts
    "participant_count": COUNT,
    "live_participants": COUNT,
    "active_participants": COUNT,
    "max_participants": COUNT,
    "max_rounds": COUNT,
    "num_samples": COUNT,
    "samples": COUNT,
    "eligible_count": COUNT,
    "submission_count": COUNT,
    "revealed_count": COUNT,
    "judged_count": COUNT,
    "accepted_count": COUNT,
    "rejected_count": COUNT,
    "excluded_count": COUNT,
    "slashed_count": COUNT,
    # identifiers and ordinals
    "pool_id": NUMBER,
    "round": NUMBER,
    "last_round": NUMBER,
}


def unit_description(name: str, unit: str, text: str = "") -> str:
    """`text` (or the field's name) followed by its unit in brackets."""
    return f"{text or name.replace('_', ' ').capitalize()} [{unit}]"


def _field(unit: str, description: str, **kwargs: Any) -> Any:
    extra = {"x-unit": unit}
    return Field(description=f"{description} [{unit}]", json_schema_extra=extra, **kwargs)


def lamports(description: str, **kwargs: Any) -> Any:
    """A `Field` of lamports (u64 on chain)."""
    return _field(LAMPORTS, description, ge=0, **kwargs)


def bps(description: str, **kwargs: Any) -> Any:
    """A `Field` of basis points (0..10 000)."""
    return _field(BPS, description, ge=0, le=10_000, **kwargs)


def unix_seconds(description: str, **kwargs: Any) -> Any:
    """A `Field` of unix seconds (i64 on chain; 0 where the program writes "not yet")."""
    return _field(UNIX_SECONDS, description, **kwargs)


def seconds(description: str, **kwargs: Any) -> Any:
    """A `Field` holding a duration in seconds."""
    return _field(SECONDS, description, ge=0, **kwargs)


def count(description: str, **kwargs: Any) -> Any:
    """A `Field` holding a count."""
    return _field(COUNT, description, ge=0, **kwargs)
