"""`/ws/feed`: the live feed of a pool (or of every pool), and `/schema/feed`,
the JSON Schema of its frames. See `frontend_api.feed.frames` for the frames
and `frontend_api.feed.session` for the connection's rules."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, WebSocket

from frontend_api.deps import Runtime, Settings
from frontend_api.feed.frames import feed_schema
from frontend_api.feed.session import FeedSession

router = APIRouter(tags=["feed"])


@router.websocket("/ws/feed")
async def feed(
    websocket: WebSocket,
    runtime: Runtime,
    settings: Settings,
    pool: Annotated[str | None, Query(max_length=64)] = None,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> None:
    """Typed frames of the bus, from `cursor` (exclusive) or from now."""
    frames = websocket.app.state.frames
    await FeedSession(websocket, runtime, frames, settings).serve(pool, cursor)


@router.get("/schema/feed", summary="JSON Schema of the /ws/feed frames")
async def schema() -> dict[str, Any]:
    """`server`: every frame the server sends (discriminated by `type`, events by
    `name`); `client`: the frames a client may send. Numbers carry `x-unit`."""
    return feed_schema()
