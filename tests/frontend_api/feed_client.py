"""A test client of `/ws/feed`: JSON frames, checked against the served schema."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import jsonschema_rs  # schemathesis depends on it
import websockets
from websockets.asyncio.client import ClientConnection

Frame = dict[str, Any]


async def frame_validator(url: str) -> jsonschema_rs.Draft202012Validator:
    """A validator of server frames from the server's own `/schema/feed`."""
    async with httpx.AsyncClient(base_url=url) as client:
        schema = (await client.get("/schema/feed")).json()
    return jsonschema_rs.Draft202012Validator(schema["server"])


class FeedClient:
    """One connection; every frame received is validated and kept in `frames`."""

    def __init__(
        self, socket: ClientConnection, validator: jsonschema_rs.Draft202012Validator
    ) -> None:
        self.socket = socket
        self.validator = validator
        self.frames: list[Frame] = []

    @classmethod
    async def connect(
        cls, ws_url: str, validator: jsonschema_rs.Draft202012Validator, **query: str
    ) -> FeedClient:
        params = "&".join(f"{key}={value}" for key, value in query.items())
        socket = await websockets.connect(f"{ws_url}/ws/feed" + (f"?{params}" if params else ""))
        return cls(socket, validator)

    async def recv(self, timeout: float = 5.0) -> Frame:
        frame = json.loads(await asyncio.wait_for(self.socket.recv(), timeout))
        self.validator.validate(frame)
        self.frames.append(frame)
        return frame

    async def until(self, done: Callable[[Frame], bool], timeout: float = 10.0) -> list[Frame]:
        """Frames up to and including the first one `done` accepts."""
        got: list[Frame] = []
        deadline = time.monotonic() + timeout
        while True:
            frame = await self.recv(max(0.01, deadline - time.monotonic()))
            got.append(frame)
            if done(frame):
                return got

    async def send(self, payload: str | bytes) -> None:
        await self.socket.send(payload)

    @property
    def last_cursor(self) -> str | None:
        for frame in reversed(self.frames):
            if frame.get("cursor"):
                return frame["cursor"]  # type: ignore[no-any-return]
        return None

    async def close(self) -> None:
        await self.socket.close()


def cursor_key(text: str) -> tuple[int, int, int]:
    slot, tx, log = (int(part) for part in text.split(":"))
    return slot, tx, log


def stream_items(frames: list[Frame]) -> list[Frame]:
    """The frames that are bus items (they carry a resume cursor and are not
    hello/heartbeat)."""
    return [f for f in frames if f["type"] in ("event", "receipt", "account", "evaluation", "gap")]
