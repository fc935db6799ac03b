"""Running the app under uvicorn: the one configuration `fedstake api serve`,
the tests and the benchmark share (so the websocket frame limit is the
protocol's as well as the app's)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from fastapi import FastAPI

from frontend_api.errors import ApiError
from frontend_api.settings import ApiSettings


class FrameContentsFilter(logging.Filter):
    """Drops websockets' debug lines that dump frame contents (`< TEXT '…'`):
    `/ws/payout` frames carry payout salts, which are never logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg not in ("< %s", "> %s")


#: the loggers websockets' server protocol writes to under uvicorn
FRAME_LOGGERS = ("uvicorn.error", "websockets.server", "websockets.protocol")


def hide_frame_contents() -> None:
    """Installs `FrameContentsFilter` on `FRAME_LOGGERS` (once)."""
    for name in FRAME_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, FrameContentsFilter) for f in logger.filters):
            logger.addFilter(FrameContentsFilter())


class ServerDidNotStart(ApiError):
    """uvicorn stopped before serving (the lifespan failed, or the port is taken)."""


def server_config(app: FastAPI, settings: ApiSettings, **overrides: Any) -> uvicorn.Config:
    """uvicorn's settings for `app`: host/port from `settings`; websocket frames
    over `max_frame_bytes` are closed with 1009 by the protocol layer too;
    pings every 20 s close a peer that stopped answering; permessage-deflate
    only with `settings.feed_compression`; debug logs never show frame
    contents (`hide_frame_contents`). `overrides` go to `uvicorn.Config` as
    they are."""
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        # websockets' own protocol (uvicorn's "websockets" implementation): its
        # sends wait for the socket to drain, which is what lets a slow feed
        # client lag on the bus instead of growing the server's write buffer
        # (uvicorn 0.49's sans-I/O variant never waits).
        "ws": "websockets",
        "ws_max_size": settings.max_frame_bytes,
        # per-message deflate costs a compression per client per frame (the frame
        # text is shared, the compressor state is not): off unless asked for
        "ws_per_message_deflate": settings.feed_compression,
        "ws_ping_interval": 20.0,
        "ws_ping_timeout": 20.0,
        "lifespan": "on",
        "log_level": "info",
        "server_header": False,
    }
    options.update(overrides)
    config = uvicorn.Config(app, **options)  # configures uvicorn's loggers
    hide_frame_contents()
    return config


@contextlib.asynccontextmanager
async def running_server(
    app: FastAPI, settings: ApiSettings, **overrides: Any
) -> AsyncIterator[str]:
    """Serves `app` in the current event loop while entered; yields its base URL
    (`http://host:port`, the real port when `settings.port` is 0). Raises
    `ServerDidNotStart` if uvicorn stops before serving."""
    server = uvicorn.Server(server_config(app, settings, **overrides))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()  # a start-up error surfaces here
                raise ServerDidNotStart("uvicorn stopped before serving (see its log)")
            await asyncio.sleep(0.02)
        host, port = server.servers[0].sockets[0].getsockname()[:2]
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
