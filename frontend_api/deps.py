"""What routes share, as `Annotated` dependencies: the runtime and settings,
typed path parameters, a page, and a pool that must exist.

    async def route(pool: ExistingPool, page: PageParams, runtime: Runtime): ...

Addresses are checked as parameters (FastAPI's 422 body for a bad one); a
missing pool is `PoolNotFound` (404 `pool_not_found`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Path, Query
from fastapi.dependencies.utils import get_flat_dependant
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator
from solders.pubkey import Pubkey
from starlette.requests import HTTPConnection

from client_kit.accounts import Pool
from client_kit.actions.reads import PoolNotFound, load_pool
from frontend_api.feed.frames import PUBKEY_PATTERN
from frontend_api.runtime import ApiRuntime
from frontend_api.settings import ApiSettings

T = TypeVar("T")
#: OpenAPI string format of a Solana address: base58 text of exactly 32 bytes
#: (more than the pattern can say; clients and the contract tests know the name)
ADDRESS_FORMAT = "solana-pubkey"
MAX_ROUND = 2**32 - 1
MAX_OFFSET = 1_000_000


def _address(text: str) -> str:
    try:
        Pubkey.from_string(text)
    except ValueError:
        raise ValueError("not a base58 32-byte address") from None
    return text


def get_runtime(connection: HTTPConnection) -> ApiRuntime:
    return connection.app.state.runtime  # type: ignore[no-any-return]


def get_settings(connection: HTTPConnection) -> ApiSettings:
    return connection.app.state.settings  # type: ignore[no-any-return]


Runtime = Annotated[ApiRuntime, Depends(get_runtime)]
Settings = Annotated[ApiSettings, Depends(get_settings)]
AddressText = Annotated[str, AfterValidator(_address)]


def _pool_key(
    pool: Annotated[
        AddressText,
        Path(
            pattern=PUBKEY_PATTERN,
            description="The pool's address (base58).",
            json_schema_extra={"format": ADDRESS_FORMAT},
        ),
    ],
) -> Pubkey:
    return Pubkey.from_string(pool)


def _wallet_key(
    wallet: Annotated[
        AddressText,
        Path(
            pattern=PUBKEY_PATTERN,
            description="The participant's wallet (base58).",
            json_schema_extra={"format": ADDRESS_FORMAT},
        ),
    ],
) -> Pubkey:
    return Pubkey.from_string(wallet)


def address_query(description: str) -> object:
    """A `Query` of an optional address (the pattern and the `solana-pubkey` format)."""
    return Query(
        pattern=PUBKEY_PATTERN,
        description=description,
        json_schema_extra={"format": ADDRESS_FORMAT},
    )


PoolKey = Annotated[Pubkey, Depends(_pool_key)]
WalletKey = Annotated[Pubkey, Depends(_wallet_key)]
RoundNumber = Annotated[int, Path(ge=1, le=MAX_ROUND, description="Round number (from 1).")]


@dataclass(frozen=True)
class PoolView:
    """A pool that exists: its address and its state."""

    key: Pubkey
    state: Pool


async def _existing_pool(key: PoolKey, runtime: Runtime, settings: Settings) -> PoolView:
    followed = settings.pool_keys
    if followed is not None and key not in followed:
        raise PoolNotFound(f"pool {key} is not followed by this server")
    return PoolView(key, await load_pool(runtime.chain, key))


ExistingPool = Annotated[PoolView, Depends(_existing_pool)]


@dataclass(frozen=True)
class Paging:
    """`offset` (items skipped) and `limit` (≤ the server's `page_limit_max`)."""

    offset: int
    limit: int

    def slice(self, items: list[T]) -> list[T]:
        return items[self.offset : self.offset + self.limit]


def _paging(
    settings: Settings,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip.")] = 0,
    limit: Annotated[
        int | None,
        Query(ge=1, le=10_000, description="Page size (default and cap set by the server)."),
    ] = None,
) -> Paging:
    chosen = settings.page_limit_default if limit is None else limit
    return Paging(offset, min(chosen, settings.page_limit_max))


PageParams = Annotated[Paging, Depends(_paging)]


async def known_query_only(connection: HTTPConnection) -> None:
    """Refuses query parameters the route does not declare (a misspelt filter
    would otherwise be ignored and answer with unfiltered data): FastAPI's 422
    body with `extra_forbidden` errors. Applied to every HTTP route."""
    route = connection.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if connection.scope["type"] != "http" or dependant is None:
        return
    known = {param.alias for param in get_flat_dependant(dependant).query_params}
    unknown = [name for name in connection.query_params if name not in known]
    if unknown:
        raise RequestValidationError(
            [
                {
                    "type": "extra_forbidden",
                    "loc": ("query", name),
                    "msg": "Unknown query parameter",
                    "input": connection.query_params.get(name),
                }
                for name in unknown
            ]
        )
