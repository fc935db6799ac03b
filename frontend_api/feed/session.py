"""One `/ws/feed` connection: parameters checked, a bus subscription sent as
frames, heartbeats, client frames answered, every error named.

Two tasks share the socket (sends under one lock): the *sender* reads the bus
subscription and sends frames (a heartbeat after `heartbeat_seconds` of
silence); the *receiver* reads client frames. Whichever ends first ends the
other, and the subscription is closed in `finally`.

Slow clients get the bus's backpressure policy unchanged
(docs/bus-and-watcher.md): a send waits for the socket, so a client that
reads slowly makes its subscription lag; it is refilled from the bus's
history with nothing lost, gets a `gap` frame if it fell past the history,
and past `bus_max_gaps` gap markers an `error` frame `dropped` (with the last
cursor it was sent) and close code 1013: reconnect with `?cursor=`.

Close codes: 1000 normal, 1009 a client frame over `max_frame_bytes`, 1011
server error, 1013 dropped or too many clients, 4400 a bad `cursor` or `pool`
parameter, 4404 a pool that does not exist (or is not followed).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time

from pydantic import ValidationError
from solders.pubkey import Pubkey
from starlette.websockets import WebSocket, WebSocketDisconnect

from client_kit.accounts import AccountDecodeError, Pool
from client_kit.actions.reads import find_account
from frontend_api.feed.frames import (
    CLIENT_FRAMES,
    ErrorCode,
    ErrorFrame,
    FrameCache,
    HeartbeatFrame,
    HelloFrame,
    PongFrame,
    cursor_text,
)
from frontend_api.runtime import ApiRuntime
from frontend_api.settings import ApiSettings
from frontend_api.sockets import CLOSE_SERVER_ERROR, CLOSE_TRY_AGAIN, answer_frames, describe
from offchain.bus import (
    BusItem,
    Cursor,
    InvalidCursor,
    Select,
    SubscriberDropped,
    Subscription,
    TooManySubscribers,
)

log = logging.getLogger(__name__)

CLOSE_BAD_PARAMETER = 4400
CLOSE_UNKNOWN_POOL = 4404


class FeedSession:
    """Serves one accepted-or-not websocket until either side ends it."""

    def __init__(
        self, websocket: WebSocket, runtime: ApiRuntime, frames: FrameCache, settings: ApiSettings
    ) -> None:
        self.websocket = websocket
        self.runtime = runtime
        self.frames = frames
        self.settings = settings
        self._send_lock = asyncio.Lock()
        self.last_sent: Cursor | None = None

    async def serve(self, pool: str | None, cursor: str | None) -> None:
        """Accepts, checks `pool` and `cursor`, subscribes and streams."""
        await self.websocket.accept()
        try:
            after = None if cursor is None else Cursor.parse(cursor)
        except InvalidCursor as exc:
            await self._refuse("invalid_cursor", str(exc), CLOSE_BAD_PARAMETER)
            return
        pool_key: Pubkey | None = None
        if pool is not None:
            try:
                pool_key = Pubkey.from_string(pool)
            except ValueError:
                await self._refuse("invalid_pool", f"not a base58 address: {pool!r:.60}", 4400)
                return
            if not await self._pool_exists(pool_key):
                await self._refuse("unknown_pool", f"no pool {pool_key} here", CLOSE_UNKNOWN_POOL)
                return
        try:
            subscription = self.runtime.bus.subscribe(after, select=_pool_filter(pool_key))
        except TooManySubscribers as exc:
            await self._refuse("too_many_clients", str(exc), CLOSE_TRY_AGAIN)
            return
        try:
            hello = HelloFrame(
                pool=None if pool_key is None else str(pool_key),
                cursor=cursor_text(subscription.position),
                head=cursor_text(self.runtime.bus.head),
                heartbeat_seconds=self.settings.heartbeat_seconds,
                max_frame_bytes=self.settings.max_frame_bytes,
            )
            await self._send(hello.model_dump_json())
            await self._run(subscription)
        except WebSocketDisconnect:
            pass
        finally:
            subscription.close()

    async def _pool_exists(self, key: Pubkey) -> bool:
        followed = self.settings.pool_keys
        if followed is not None and key not in followed:
            return False
        try:
            return await find_account(self.runtime.chain, Pool, key) is not None
        except AccountDecodeError:
            return False

    async def _run(self, subscription: Subscription) -> None:
        sender = asyncio.create_task(self._sender(subscription))
        receiver = asyncio.create_task(self._receiver())
        try:
            done, _ = await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sender, receiver):
                task.cancel()
            for task in (sender, receiver):
                with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, OSError):
                    await task
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                error = task.exception()
                if not isinstance(error, WebSocketDisconnect | OSError | RuntimeError):
                    log.exception("feed: connection failed", exc_info=error)
                    await self._close(CLOSE_SERVER_ERROR, "server error")

    async def _sender(self, subscription: Subscription) -> None:
        heartbeat = self.settings.heartbeat_seconds
        while True:
            try:
                # what is queued is sent without arming a timer; only an empty
                # queue waits, at most a heartbeat's time
                item = subscription.get_nowait()
                if item is None:
                    async with asyncio.timeout(heartbeat):
                        item = await subscription.get()
            except TimeoutError:
                await self._send(self._heartbeat(subscription).model_dump_json())
                continue
            except SubscriberDropped as exc:
                await self._refuse("dropped", str(exc), CLOSE_TRY_AGAIN)
                return
            await self._send(await self.frames.text(item))
            self.last_sent = item.cursor
            # one frame per turn: with many clients, every client gets an item
            # before any client gets the next (the event of a transaction
            # reaches everybody before its account states do)
            await asyncio.sleep(0)

    def _heartbeat(self, subscription: Subscription) -> HeartbeatFrame:
        # with an empty queue every position up to the subscription's was sent
        # or filtered out, so it is a resume point; otherwise the last one sent
        position = subscription.position if subscription.queued == 0 else self.last_sent
        return HeartbeatFrame(
            cursor=cursor_text(position), head=cursor_text(self.runtime.bus.head), time=time.time()
        )

    async def _receiver(self) -> None:
        async def binary() -> None:
            await self._error("bad_frame", "binary frames are not accepted; send JSON text")

        limit = self.settings.max_frame_bytes
        await answer_frames(self.websocket, limit, self._answer, binary, self._close)

    async def _answer(self, text: str) -> None:
        try:
            ping = CLIENT_FRAMES.validate_python(json.loads(text))
        except json.JSONDecodeError as exc:
            await self._error("bad_frame", f"not JSON: {exc.msg} at {exc.pos}")
            return
        except ValidationError as exc:
            await self._error("bad_frame", f"{describe(exc)}; expected {{'type': 'ping'}}")
            return
        pong = PongFrame(id=ping.id, head=cursor_text(self.runtime.bus.head), time=time.time())
        await self._send(pong.model_dump_json())

    # --- sending -----------------------------------------------------------
    async def _send(self, text: str) -> None:
        async with self._send_lock:
            await self.websocket.send_text(text)

    async def _error(self, code: ErrorCode, message: str) -> None:
        frame = ErrorFrame(code=code, message=message, cursor=cursor_text(self.last_sent))
        await self._send(frame.model_dump_json())

    async def _refuse(self, code: ErrorCode, message: str, close_code: int) -> None:
        """An error frame, then a close with `close_code` (best effort)."""
        with contextlib.suppress(WebSocketDisconnect, OSError, RuntimeError):
            await self._error(code, message)
        await self._close(close_code, code)

    async def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(WebSocketDisconnect, OSError, RuntimeError):
            async with self._send_lock:
                await self.websocket.close(code, reason[:120])


def _pool_filter(pool: Pubkey | None) -> Select | None:
    """Keeps the items of `pool` (None: every item)."""
    if pool is None:
        return None

    def select(item: BusItem) -> bool:
        return item.pool == pool

    return select
