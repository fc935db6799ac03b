"""What both websocket endpoints (`/ws/feed`, `/ws/payout`) do with a client
frame: the size limit (close 1009), text only, and how a frame that does not
validate is described in the `bad_frame` error."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import Enum

from pydantic import ValidationError
from starlette.websockets import WebSocket

CLOSE_NORMAL = 1000
CLOSE_TOO_BIG = 1009
CLOSE_SERVER_ERROR = 1011
CLOSE_TRY_AGAIN = 1013


class Received(Enum):
    """What arrived when it was not a text frame within the limit."""

    CLOSED = "closed"  # the client went away
    TOO_BIG = "too_big"  # over the limit: close with 1009
    BINARY = "binary"  # a binary frame: answer bad_frame


async def receive_text(websocket: WebSocket, limit: int) -> str | Received:
    """The next client text frame, or what it was instead. `limit` is bytes
    of the frame's payload (UTF-8 for text)."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        return Received.CLOSED
    text, data = message.get("text"), message.get("bytes")
    size = len(text.encode()) if text is not None else len(data or b"")
    if size > limit:
        return Received.TOO_BIG
    if text is None:
        return Received.BINARY
    return text


async def answer_frames(
    websocket: WebSocket,
    limit: int,
    answer: Callable[[str], Awaitable[None]],
    binary: Callable[[], Awaitable[None]],
    close: Callable[[int, str], Awaitable[None]],
) -> None:
    """Reads client frames until the client leaves: each text frame goes to
    `answer`, a binary one to `binary` (a `bad_frame` error; the connection
    stays open); a frame over `limit` bytes is `close`d with 1009 and ends it."""
    while True:
        text = await receive_text(websocket, limit)
        if text is Received.CLOSED:
            return
        if text is Received.TOO_BIG:
            await close(CLOSE_TOO_BIG, f"frame over {limit} bytes")
            return
        if text is Received.BINARY:
            await binary()
            continue
        await answer(text)


def describe(exc: ValidationError) -> str:
    """Where and what of the first error (`loc: msg`), never the input (a
    payout reveal's carries its salt)."""
    first = exc.errors(include_input=False, include_url=False)[0]
    where = ".".join(str(p) for p in first["loc"]) or "frame"
    return f"{where}: {first['msg']}"
