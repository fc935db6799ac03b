"""`/api/pools/{pool}/rounds`: a pool's rounds (the model provenance chain),
each with the operator's evaluation when one was published."""

from __future__ import annotations

from fastapi import APIRouter

from client_kit.actions.reads import find_round, list_rounds
from frontend_api.deps import ExistingPool, PageParams, RoundNumber, Runtime
from frontend_api.errors import RoundNotFound
from frontend_api.routes import NOT_FOUND
from frontend_api.schemas import Page, RoundOut, page_of, round_out

router = APIRouter(prefix="/api/pools/{pool}/rounds", tags=["rounds"])


@router.get("", response_model=Page[RoundOut], responses=NOT_FOUND, summary="A pool's rounds")
async def rounds(pool: ExistingPool, runtime: Runtime, page: PageParams) -> dict[str, object]:
    """Rounds by number, oldest first."""
    found = await list_rounds(runtime.chain, pool.key)
    items = [
        round_out(key, state, runtime.evaluations.get(pool.key, state.round))
        for key, state in found
    ]
    return page_of(items, page.offset, page.limit)


@router.get("/{round}", response_model=RoundOut, responses=NOT_FOUND, summary="One round")
async def one_round(pool: ExistingPool, round: RoundNumber, runtime: Runtime) -> RoundOut:
    state = await find_round(runtime.chain, pool.key, round)
    if state is None:
        raise RoundNotFound(f"pool {pool.key} has no round {round}")
    key = runtime.instructions.round(pool.key, round)
    return round_out(key, state, runtime.evaluations.get(pool.key, round))
