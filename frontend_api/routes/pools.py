"""`/api/pools`: every pool the program has, and one pool."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from solders.pubkey import Pubkey

from client_kit.actions.reads import list_pools
from client_kit.enums import PoolStatus
from frontend_api.deps import (
    AddressText,
    ExistingPool,
    PageParams,
    Runtime,
    Settings,
    address_query,
)
from frontend_api.routes import NOT_FOUND
from frontend_api.schemas import Page, PoolOut, page_of, pool_out

router = APIRouter(prefix="/api/pools", tags=["pools"])


@router.get("", response_model=Page[PoolOut], summary="List pools")
async def pools(
    runtime: Runtime,
    settings: Settings,
    page: PageParams,
    organization: Annotated[
        AddressText | None, address_query("Only this organization's pools (base58).")
    ] = None,
    status: Annotated[PoolStatus | None, Query(description="Only pools in this status.")] = None,
) -> dict[str, object]:
    """Pools ordered by address; one filtered `getProgramAccounts` query."""
    owner = None if organization is None else Pubkey.from_string(organization)
    found = await list_pools(runtime.chain, owner)
    followed = settings.pool_keys
    items = [
        pool_out(key, state)
        for key, state in found
        if (status is None or state.status is status) and (followed is None or key in followed)
    ]
    return page_of(items, page.offset, page.limit)


@router.get("/{pool}", response_model=PoolOut, responses=NOT_FOUND, summary="One pool")
async def pool(pool: ExistingPool) -> PoolOut:
    return pool_out(pool.key, pool.state)
