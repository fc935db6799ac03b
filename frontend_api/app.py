"""`create_app(settings)`: the FastAPI app and its lifespan.

The lifespan follows a chain read-only — it opens a gateway from
`settings.url` (or takes the open `settings.chain`), runs the watcher feeding
the bus, keeps the receipt and evaluation books — and, when the settings carry
an `OperatorHook`, starts the operator runtime in the same process on the same
gateway and bus (see `frontend_api.settings`). Routes find it all on
`app.state` through `frontend_api.deps`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from frontend_api import errors
from frontend_api.deps import known_query_only
from frontend_api.feed.frames import FrameCache
from frontend_api.routes import (
    dashboard,
    feed,
    health,
    participants,
    payout,
    pools,
    rounds,
    submissions,
)
from frontend_api.runtime import ApiRuntime
from frontend_api.schemas import ErrorOut
from frontend_api.settings import ApiSettings

DESCRIPTION = """\
Read API of fedstake pools: pools, rounds (with the operator's test accuracy),
participants and submissions (verdicts, reasons, rewards, slashes), straight
from the chain; a websocket feed (`/ws/feed`, frames described at
`/schema/feed`) and a dashboard at `/`.

Units: amounts are **lamports**, scores and slash rates **basis points**,
times **unix seconds**; each number's description ends with its unit and
carries `x-unit`.
"""


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    """The app for `settings` (default: `ApiSettings()` from the environment).

    Nothing is opened until the lifespan runs (uvicorn, or
    `fastapi.testclient.TestClient` as a context manager); start-up fails with
    the chain's error (`ClusterUnreachable`, `ProgramNotDeployed`, `UnknownPool`)
    rather than serving without one.
    """
    settings = settings or ApiSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            try:
                runtime = await stack.enter_async_context(ApiRuntime.running(settings))
            except Exception as exc:
                app.state.startup_error = exc  # for `fedstake api serve` to report in one line
                raise
            app.state.runtime = runtime
            app.state.frames = FrameCache(runtime)
            yield

    app = FastAPI(
        title="fedstake",
        version="1",
        summary="Incentivized federated learning pools on Solana: state, feed, dashboard.",
        description=DESCRIPTION,
        lifespan=lifespan,
        responses={503: {"model": ErrorOut, "description": "The chain could not be read."}},
        dependencies=[Depends(known_query_only)],
    )
    app.state.settings = settings
    app.state.startup_error = None
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET"],
            allow_headers=["*"],
        )
    errors.install(app)
    for module in (pools, rounds, participants, submissions, health, feed, payout, dashboard):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=dashboard.STATIC), name="static")
    return app
