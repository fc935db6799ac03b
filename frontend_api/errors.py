"""Errors as the API answers them: a status and `{"error": <name>, "detail": <text>}`.

The name is the exception's class name in snake case (`PoolNotFound` →
`pool_not_found`), so a client can match on it. Missing accounts are 404,
a chain the API cannot reach 503; invalid parameters (bad addresses included)
get FastAPI's own 422 body. Nothing here changes state: the API only reads.
"""

from __future__ import annotations

import re

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from client_kit.actions.reads import AccountNotFound
from client_kit.errors import FedstakeError


class ApiError(FedstakeError):
    """Root of the errors the API raises itself."""

    status_code = 400


class RoundNotFound(ApiError, LookupError):
    """The pool has no such round (yet)."""

    status_code = 404


class SubmissionNotFound(ApiError, LookupError):
    """No open submission of that wallet in that round."""

    status_code = 404


def error_name(exc: BaseException) -> str:
    """`PoolNotFound` → `pool_not_found`."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__).lower()


def error_response(status: int, exc: BaseException) -> JSONResponse:
    return JSONResponse({"error": error_name(exc), "detail": str(exc)}, status_code=status)


def install(app: FastAPI) -> None:
    """Registers the handlers on `app`."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status_code, exc)

    @app.exception_handler(AccountNotFound)
    async def _not_found(request: Request, exc: AccountNotFound) -> JSONResponse:
        return error_response(404, exc)

    @app.exception_handler(FedstakeError)
    async def _chain_error(request: Request, exc: FedstakeError) -> JSONResponse:
        return error_response(503, exc)
