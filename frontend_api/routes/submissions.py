"""`/api/pools/{pool}/submissions`: committed updates and their verdicts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from solders.pubkey import Pubkey

from client_kit.actions.reads import find_submission, list_submissions
from client_kit.enums import Verdict
from frontend_api.deps import (
    MAX_ROUND,
    AddressText,
    ExistingPool,
    PageParams,
    RoundNumber,
    Runtime,
    WalletKey,
    address_query,
)
from frontend_api.errors import SubmissionNotFound
from frontend_api.routes import NOT_FOUND
from frontend_api.schemas import Page, SubmissionOut, page_of, submission_out

router = APIRouter(prefix="/api/pools/{pool}/submissions", tags=["submissions"])


@router.get(
    "", response_model=Page[SubmissionOut], responses=NOT_FOUND, summary="A pool's submissions"
)
async def submissions(
    pool: ExistingPool,
    runtime: Runtime,
    page: PageParams,
    round: Annotated[
        int | None, Query(ge=1, le=MAX_ROUND, description="Only this round's.")
    ] = None,
    wallet: Annotated[AddressText | None, address_query("Only this wallet's (base58).")] = None,
    verdict: Annotated[Verdict | None, Query(description="Only this verdict.")] = None,
) -> dict[str, object]:
    """Submissions still open on chain, by (round, wallet)."""
    owner = None if wallet is None else Pubkey.from_string(wallet)
    found = await list_submissions(runtime.chain, pool.key, round, owner)
    items = [
        submission_out(key, state, runtime.receipts.receipt((pool.key, state.round, state.wallet)))
        for key, state in found
        if verdict is None or state.verdict is verdict
    ]
    return page_of(items, page.offset, page.limit)


@router.get(
    "/{round}/{wallet}",
    response_model=SubmissionOut,
    responses=NOT_FOUND,
    summary="One submission",
)
async def submission(
    pool: ExistingPool, round: RoundNumber, wallet: WalletKey, runtime: Runtime
) -> SubmissionOut:
    state = await find_submission(runtime.chain, pool.key, round, wallet)
    if state is None:
        raise SubmissionNotFound(f"{wallet} has no open submission in round {round} of {pool.key}")
    key = runtime.instructions.submission(pool.key, round, wallet)
    return submission_out(key, state, runtime.receipts.receipt((pool.key, round, wallet)))
