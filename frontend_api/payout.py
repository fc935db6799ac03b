"""`/ws/payout`: hashed-wallet reveals over a websocket, relayed as `claim_reward`.

A participant (or anyone holding its payout secret) sends

    {"pool": …, "participant": …, "payout_wallet": …, "salt": "<64 hex>", "id": …}

(`participant` is the trainer's wallet, the key it joined with; `id` is
optional and echoed; `"type": "reveal"` may be given). The server hands it to
the payout relay — the in-process operator service's relayer task, or an
`offchain.payout.PayoutRelayer` paying with `relayer_keypair` — which checks
sha256(payout_wallet ‖ salt) against the participant's on-chain
`payout_commitment` before any fee and sends `claim_reward`
(docs/PROTOCOL.md). The answer is a `claimed` frame (lamports paid, the
transaction signature) or an `error` frame with a named `code`; the
connection stays open for the next reveal.

Nothing is sent on chain and no state changes on any error. The salt is never
logged and never echoed: error messages name the field, never its value.

Close codes: 1009 a frame over `max_frame_bytes`; 1013 no relay here
(`relayer_unavailable`).
"""

from __future__ import annotations

import contextlib
import json
import logging
from functools import cache
from typing import Annotated, Any, Literal

from aiolimiter import AsyncLimiter
from pydantic import Field, TypeAdapter, ValidationError
from solders.pubkey import Pubkey
from starlette.websockets import WebSocket, WebSocketDisconnect

from client_kit.errors import FedstakeError
from frontend_api.feed.frames import Frame, FrameId, PubkeyText
from frontend_api.runtime import ApiRuntime
from frontend_api.settings import ApiSettings
from frontend_api.sockets import CLOSE_TRY_AGAIN, answer_frames, describe
from frontend_api.units import lamports
from offchain import payout
from offchain.service import ServiceStopped

log = logging.getLogger(__name__)

SALT_PATTERN = r"^[0-9a-fA-F]{64}$"

PayoutErrorCode = Literal[
    "bad_frame",  # not JSON, a missing or extra field, a malformed address or salt
    "wrong_salt",  # sha256(payout_wallet ‖ salt) is not the participant's commitment
    "unknown_pool",  # no pool account at `pool`
    "unknown_participant",  # `participant` never joined `pool` (or its account is closed)
    "already_claimed",  # everything earned was paid: a replayed reveal
    "nothing_to_claim",  # nothing was ever earned
    "rate_limited",  # too many reveals (per participant, or on this connection)
    "claim_failed",  # the chain refused the claim (e.g. a payout wallet that cannot receive)
    "relayer_unavailable",  # no relay here, or the operator stopped (closes 1013 at connect)
]

#: relayer refusal → error code (subclasses first)
ERROR_CODES: tuple[tuple[type[Exception], PayoutErrorCode], ...] = (
    (payout.WrongSalt, "wrong_salt"),
    (payout.UnknownPool, "unknown_pool"),
    (payout.UnknownParticipant, "unknown_participant"),
    (payout.AlreadyClaimed, "already_claimed"),
    (payout.NothingToClaim, "nothing_to_claim"),
    (payout.RateLimited, "rate_limited"),
    (payout.InvalidReveal, "bad_frame"),
    (ServiceStopped, "relayer_unavailable"),
)


class RevealFrame(Frame):
    """Client → server: a payout reveal."""

    type: Literal["reveal"] = "reveal"
    id: FrameId = None
    pool: PubkeyText
    participant: PubkeyText = Field(description="The trainer's wallet (the key it joined with).")
    payout_wallet: PubkeyText = Field(description="The wallet committed to at the join.")
    salt: str = Field(
        pattern=SALT_PATTERN, repr=False, description="The 32-byte salt, hex (never logged)."
    )

    def reveal(self) -> payout.Reveal:
        """The relayer's `Reveal`; raises ValueError for an address that is not 32 bytes."""
        return payout.Reveal(
            Pubkey.from_string(self.pool),
            Pubkey.from_string(self.participant),
            Pubkey.from_string(self.payout_wallet),
            bytes.fromhex(self.salt),
        )


class ReadyFrame(Frame):
    """The first frame: the connection's limits."""

    type: Literal["ready"] = "ready"
    max_frame_bytes: int
    reveals_per_minute: float = Field(description="Reveals this connection may send per minute.")


class ClaimedFrame(Frame):
    """The reveal was relayed: `amount` went to `payout_wallet`."""

    type: Literal["claimed"] = "claimed"
    id: FrameId = None
    pool: PubkeyText
    participant: PubkeyText
    payout_wallet: PubkeyText
    amount: int = lamports("Reward paid to the payout wallet")
    signature: str = Field(description="The `claim_reward` transaction's signature (base58).")


class PayoutErrorFrame(Frame):
    """A named refusal; nothing was sent and nothing changed."""

    type: Literal["error"] = "error"
    id: FrameId = None
    code: PayoutErrorCode
    message: str


PayoutServerFrame = Annotated[
    ReadyFrame | ClaimedFrame | PayoutErrorFrame, Field(discriminator="type")
]
REVEAL = TypeAdapter(RevealFrame)
SERVER = TypeAdapter(PayoutServerFrame)


@cache
def payout_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) of both directions, as `/schema/payout` serves it."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "fedstake /ws/payout frames",
        "description": (__doc__ or "").strip(),
        "server": SERVER.json_schema(),
        "client": REVEAL.json_schema(),
    }


class PayoutSession:
    """Serves one `/ws/payout` connection: one reveal at a time, in order."""

    def __init__(self, websocket: WebSocket, runtime: ApiRuntime, settings: ApiSettings) -> None:
        self.websocket = websocket
        self.runtime = runtime
        self.settings = settings
        self.limiter = AsyncLimiter(settings.payout_frames_per_minute, 60.0)

    async def serve(self) -> None:
        """Accepts, then answers reveals until the client leaves."""
        await self.websocket.accept()
        with contextlib.suppress(WebSocketDisconnect):
            if self.runtime.relay is None:
                await self._error(None, "relayer_unavailable", "this server relays no reveals")
                await self.websocket.close(CLOSE_TRY_AGAIN, "relayer_unavailable")
                return
            ready = ReadyFrame(
                max_frame_bytes=self.settings.max_frame_bytes,
                reveals_per_minute=self.settings.payout_frames_per_minute,
            )
            await self.websocket.send_text(ready.model_dump_json())

            async def binary() -> None:
                await self._error(None, "bad_frame", "binary frames are not accepted")

            limit = self.settings.max_frame_bytes
            await answer_frames(self.websocket, limit, self._answer, binary, self.websocket.close)

    async def _answer(self, text: str) -> None:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            await self._error(None, "bad_frame", f"not JSON: {exc.msg} at {exc.pos}")
            return
        try:
            frame = REVEAL.validate_python(data)
            reveal = frame.reveal()
        except ValidationError as exc:
            await self._error(_id_of(data), "bad_frame", describe(exc))
            return
        except ValueError:
            await self._error(frame.id, "bad_frame", "an address is not 32 bytes")
            return
        if not self.limiter.has_capacity():
            rate = self.settings.payout_frames_per_minute
            await self._error(frame.id, "rate_limited", f"at most {rate:g} reveals per minute")
            return
        await self.limiter.acquire()
        assert self.runtime.relay is not None
        try:
            done = await self.runtime.relay.relay(reveal)
        except FedstakeError as exc:
            code = _code_of(exc)
            log.info(
                "payout reveal refused: %s",
                code,
                extra={"pool": frame.pool, "participant": frame.participant},
            )
            await self._error(frame.id, code, str(exc))
            return
        claimed = ClaimedFrame(
            id=frame.id,
            pool=str(done.pool),
            participant=str(done.participant),
            payout_wallet=str(done.payout_wallet),
            amount=done.amount,
            signature=done.signature,
        )
        await self.websocket.send_text(claimed.model_dump_json())

    async def _error(self, frame_id: str | int | None, code: PayoutErrorCode, message: str) -> None:
        frame = PayoutErrorFrame(id=frame_id, code=code, message=message)
        await self.websocket.send_text(frame.model_dump_json())


def _code_of(exc: Exception) -> PayoutErrorCode:
    for kind, code in ERROR_CODES:
        if isinstance(exc, kind):
            return code
    return "claim_failed"


def _id_of(data: object) -> str | int | None:
    """The parsed frame's `id`, when it has a usable one (to echo on a bad frame)."""
    found = data.get("id") if isinstance(data, dict) else None
    if isinstance(found, int) or (isinstance(found, str) and len(found) <= 64):
        return found
    return None
