"""`/api/pools/{pool}/participants`: stakes, statuses, verdict counts, rewards."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from client_kit.actions.reads import list_participants, load_participant
from client_kit.enums import ParticipantStatus
from frontend_api.deps import ExistingPool, PageParams, Runtime, WalletKey
from frontend_api.routes import NOT_FOUND
from frontend_api.schemas import Page, ParticipantOut, page_of, participant_out

router = APIRouter(prefix="/api/pools/{pool}/participants", tags=["participants"])


@router.get(
    "", response_model=Page[ParticipantOut], responses=NOT_FOUND, summary="A pool's participants"
)
async def participants(
    pool: ExistingPool,
    runtime: Runtime,
    page: PageParams,
    status: Annotated[
        ParticipantStatus | None, Query(description="Only participants in this status.")
    ] = None,
) -> dict[str, object]:
    """Participants with an open account (withdrawn ones are closed), by wallet."""
    found = await list_participants(runtime.chain, pool.key)
    items = [
        participant_out(key, state)
        for key, state in found
        if status is None or state.status is status
    ]
    return page_of(items, page.offset, page.limit)


@router.get(
    "/{wallet}", response_model=ParticipantOut, responses=NOT_FOUND, summary="One participant"
)
async def participant(pool: ExistingPool, wallet: WalletKey, runtime: Runtime) -> ParticipantOut:
    state = await load_participant(runtime.chain, pool.key, wallet)
    return participant_out(runtime.instructions.participant(pool.key, wallet), state)
