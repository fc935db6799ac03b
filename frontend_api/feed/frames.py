"""The frames of `/ws/feed`: their pydantic models (the schema served at
`/schema/feed`) and how bus items become frames.

Server → client, each a JSON object with a `type`:

| type | when | resume token |
| --- | --- | --- |
| `hello` | first, once: the resume point, the bus head, the limits | `cursor` |
| `event` | a program event (`name` says which; `fields` typed per event) | `cursor` |
| `receipt` | a `SubmissionJudged` event, as a per-update receipt | `cursor` |
| `account` | a program account's new state (or its close) | `cursor` |
| `evaluation` | the operator's `RoundEvaluated` (test accuracy, loss) | `cursor` |
| `gap` | items between `after` and `cursor` may be missing: re-read state | `cursor` |
| `heartbeat` | after `heartbeat_seconds` without a frame | `cursor` |
| `pong` | the answer to a client `ping` | — |
| `error` | a bad client frame (the connection stays open), or why it closes | — |

Client → server: `{"type": "ping", "id": <string or integer, optional>}`.

A client stores the `cursor` of the last frame that has one and reconnects
with `?cursor=` to resume with no gap and no duplicate. Every number carries
its unit in the schema (`x-unit`: lamports, bps, unix seconds, count).

Event and account payloads are generated from `client_kit.events` and
`client_kit.accounts`, so a program change shows up here (field units come
from `frontend_api.units.FIELD_UNITS`).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import fields as dataclass_fields
from enum import Enum
from functools import cache
from typing import Annotated, Any, Literal, Union, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model
from solders.pubkey import Pubkey

from client_kit.accounts import ACCOUNT_TYPES, as_dict
from client_kit.enums import Reason, ReasonKind, Verdict
from client_kit.events import EVENT_TYPES, SubmissionJudged
from frontend_api.runtime import ApiRuntime, Receipt
from frontend_api.units import FIELD_UNITS, bps, count, lamports, unit_description
from offchain.bus import AccountUpdate, BusItem, ChainEvent, Cursor, Gap, OperatorEvent
from offchain.events import RoundEvaluated

FEED_VERSION = 1
CURSOR_PATTERN = r"^[0-9]{1,20}:[0-9]{1,20}:[0-9]{1,20}$"
PUBKEY_PATTERN = r"^[1-9A-HJ-NP-Za-km-z]{32,44}$"
HEX32_PATTERN = r"^[0-9a-f]{64}$"

CursorText = Annotated[
    str, Field(pattern=CURSOR_PATTERN, description="Bus position `slot:tx:log`; resume token.")
]
PubkeyText = Annotated[str, Field(pattern=PUBKEY_PATTERN, description="Base58 address.")]
Hash32Text = Annotated[str, Field(pattern=HEX32_PATTERN, description="32-byte SHA-256, hex.")]
# a judgment's reason, as receipts and the REST submissions give it
ReasonName = Annotated[
    str, Field(description="Reason code name (`ok`, `hash_mismatch`, `trust`, …).")
]
ReasonCode = Annotated[int, Field(ge=0, le=255, description="Reason code (u8).")]
ReasonClass = Annotated[
    Literal[tuple(k.value for k in ReasonKind)],  # type: ignore[valid-type]
    Field(description="ok (Accepted), objective (Slashed) or statistical (Excluded)."),
]

ErrorCode = Literal[
    "bad_frame",  # not JSON, not an object, unknown type, binary: the connection stays open
    "invalid_cursor",  # ?cursor= is not slot:tx:log (closes 4400)
    "invalid_pool",  # ?pool= is not a base58 address (closes 4400)
    "unknown_pool",  # ?pool= has no pool account (closes 4404)
    "dropped",  # the client fell too far behind (bus policy); reconnect with your cursor (1013)
    "too_many_clients",  # the feed is full (closes 1013)
    "server_error",  # (closes 1011)
]


#: a client frame's `id`, echoed in the answer (`max_length` on the str arm
#: alone: on the whole union pydantic raises TypeError for an int)
FrameId = Annotated[
    Annotated[str, Field(max_length=64)] | int | None,
    Field(description="Echoed in the answer: a string of at most 64 characters, or an integer."),
]


class Frame(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HelloFrame(Frame):
    """The first frame: where the stream starts and the connection's limits."""

    type: Literal["hello"] = "hello"
    version: Literal[1] = FEED_VERSION
    pool: PubkeyText | None = Field(description="The pool followed (None: every pool).")
    cursor: CursorText | None = Field(description="Items after this position follow.")
    head: CursorText | None = Field(description="The newest position the server has.")
    heartbeat_seconds: float = Field(description="Idle time before a heartbeat [seconds].")
    max_frame_bytes: int = Field(description="Largest client frame; larger closes 1009.")


class ReceiptFrame(Frame):
    """A per-update receipt: a `SubmissionJudged` event with the committed hash."""

    type: Literal["receipt"] = "receipt"
    cursor: CursorText
    slot: int = Field(ge=0, description="Slot of the judging transaction.")
    signature: str = Field(description="The `judge_submission` transaction's signature.")
    pool: PubkeyText
    round: int = Field(ge=0, description="Round number.")
    wallet: PubkeyText = Field(description="The participant's signing wallet.")
    update_hash: Hash32Text | None = Field(
        description="SHA-256 of the revealed canonical update bytes (None: never revealed)."
    )
    update_cid: str | None = Field(description="CID of the revealed bytes (None: never revealed).")
    verdict: Literal[tuple(v.value for v in Verdict if v is not Verdict.PENDING)] = Field(  # type: ignore[valid-type]
        description="Verdict class."
    )
    reason: ReasonName
    reason_code: ReasonCode
    reason_class: ReasonClass
    score: int = bps("Share of the round's reward")
    reward: int = lamports("Reward accrued for this update")
    slashed: int = lamports("Stake slashed for this update")


class EvaluationFrame(Frame):
    """The operator's evaluation of a round's global model (`RoundEvaluated`)."""

    type: Literal["evaluation"] = "evaluation"
    cursor: CursorText
    pool: PubkeyText
    round: int = Field(ge=1, description="Round number.")
    accuracy: float = Field(ge=0, le=1, description="Test accuracy [fraction 0..1].")
    loss: float = Field(ge=0, description="Mean test cross-entropy [nats per example].")
    samples: int = count("Test examples")
    global_model_hash: Hash32Text


class GapFrame(Frame):
    """Items after `after` up to `cursor` may be missing: re-read the state you show."""

    type: Literal["gap"] = "gap"
    cursor: CursorText
    after: CursorText | None


class HeartbeatFrame(Frame):
    """Nothing new for `heartbeat_seconds`; `cursor` is a valid resume token."""

    type: Literal["heartbeat"] = "heartbeat"
    cursor: CursorText | None
    head: CursorText | None
    time: float = Field(description="Server time [unix seconds].")


class PongFrame(Frame):
    """The answer to a client `ping`."""

    type: Literal["pong"] = "pong"
    id: FrameId = None
    head: CursorText | None
    time: float = Field(description="Server time [unix seconds].")


class ErrorFrame(Frame):
    """A named error; see `ErrorCode` for which ones close the connection."""

    type: Literal["error"] = "error"
    code: ErrorCode
    message: str
    cursor: CursorText | None = Field(None, description="The last cursor sent, to resume from.")


class PingFrame(Frame):
    """Client → server: asks for a `pong` (with the same `id`)."""

    type: Literal["ping"]
    id: FrameId = None


# --- payloads generated from client_kit's dataclasses ---------------------
def _payload_field(name: str, annotation: Any) -> tuple[Any, Any]:
    if annotation is Pubkey:
        return PubkeyText, Field(description=f"{name} (base58 address)")
    if annotation is bytes:
        if name.endswith("_cid"):
            return str, Field(description=f"{name} (CID text; empty when unset)")
        return str, Field(pattern=r"^[0-9a-f]*$", description=f"{name} (hex)")
    if annotation is bool:
        return bool, Field(description=name)
    if annotation is float:
        return float, Field(description=name)
    if isinstance(annotation, type) and issubclass(annotation, Reason):
        return str, Field(description=f"{name} (reason code name)")
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return Literal[tuple(m.value for m in annotation)], Field(description=name)
    if annotation is int:
        unit = FIELD_UNITS.get(name)
        if unit is None:
            return int, Field(description=name)
        extra = {"x-unit": unit}
        return int, Field(description=unit_description(name, unit), json_schema_extra=extra)
    raise TypeError(f"no feed type for {name}: {annotation!r}")


@cache
def payload_model(cls: type) -> type[BaseModel]:
    """A pydantic model of `cls`'s fields as `client_kit.accounts.as_dict` writes them."""
    hints = get_type_hints(cls)
    spec = {f.name: _payload_field(f.name, hints[f.name]) for f in dataclass_fields(cls)}
    return create_model(  # type: ignore[call-overload, no-any-return]
        f"{cls.__name__}Fields",
        __config__=ConfigDict(extra="forbid"),
        __doc__=(cls.__doc__ or cls.__name__).strip().splitlines()[0],
        **spec,
    )


def _event_frame(name: str, cls: type) -> type[BaseModel]:
    return create_model(  # type: ignore[call-overload, no-any-return]
        f"{name}Event",
        __base__=Frame,
        __doc__=(cls.__doc__ or name).strip().splitlines()[0],
        type=(Literal["event"], "event"),
        name=(Literal[name], name),
        cursor=(CursorText, ...),
        slot=(int, Field(ge=0, description="Slot of the transaction.")),
        signature=(str, Field(description="The transaction's signature.")),
        pool=(PubkeyText | None, Field(description="The event's pool.")),
        fields=(payload_model(cls), ...),
    )


EVENT_FRAMES = {
    name: _event_frame(name, cls)
    for name, cls in EVENT_TYPES.items()
    if cls is not SubmissionJudged  # sent as a receipt
}
_ACCOUNT_PAYLOADS = tuple(payload_model(cls) for cls in ACCOUNT_TYPES.values())


class AccountFrame(Frame):
    """A program account's state, at least as new as `slot` (or its close)."""

    type: Literal["account"] = "account"
    cursor: CursorText
    slot: int = Field(ge=0)
    pubkey: PubkeyText
    pool: PubkeyText | None = Field(description="The pool the account belongs to.")
    account_type: Literal[tuple(ACCOUNT_TYPES)] | None = Field(  # type: ignore[valid-type]
        description="Pool, Participant, Submission or Round (None: closed or undecoded)."
    )
    closed: bool
    lamports: int = lamports("The account's balance")
    account: Union[_ACCOUNT_PAYLOADS] | None = Field(  # type: ignore[valid-type]  # noqa: UP007
        description="The decoded account (as the REST views, without units' suffixes)."
    )


EventFrame = Annotated[Union[tuple(EVENT_FRAMES.values())], Field(discriminator="name")]  # type: ignore[valid-type]  # noqa: UP007
ServerFrame = Annotated[
    Union[  # noqa: UP007
        HelloFrame,
        EventFrame,
        ReceiptFrame,
        AccountFrame,
        EvaluationFrame,
        GapFrame,
        HeartbeatFrame,
        PongFrame,
        ErrorFrame,
    ],
    Field(discriminator="type"),
]
ClientFrame = PingFrame
SERVER_FRAMES = TypeAdapter(ServerFrame)
CLIENT_FRAMES = TypeAdapter(ClientFrame)


@cache
def feed_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) of both directions, as `/schema/feed` serves it."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "fedstake /ws/feed frames",
        "version": FEED_VERSION,
        "description": (__doc__ or "").strip(),
        "server": SERVER_FRAMES.json_schema(),
        "client": CLIENT_FRAMES.json_schema(),
    }


# --- bus items → frames -----------------------------------------------------
def _text(obj: dict[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)


def cursor_text(cursor: Cursor | None) -> str | None:
    return None if cursor is None else str(cursor)


def _key_text(key: Pubkey | None) -> str | None:
    return None if key is None else str(key)


class FrameCache:
    """Serializes each bus item once for every client (LRU of `size` frames by
    cursor): with many subscribers the JSON is built once, not once each."""

    def __init__(self, runtime: ApiRuntime, size: int = 4_096) -> None:
        self.runtime = runtime
        self.size = size
        self._frames: OrderedDict[Cursor, str] = OrderedDict()

    async def text(self, item: BusItem | Gap) -> str:
        """The frame of `item`, as JSON text (a gap's is per client: not cached)."""
        if isinstance(item, Gap):
            return _text(
                {"type": "gap", "cursor": str(item.cursor), "after": cursor_text(item.after)}
            )
        cached = self._frames.get(item.cursor)
        if cached is not None:
            return cached
        text = _text(await self._build(item))
        self._frames[item.cursor] = text
        if len(self._frames) > self.size:
            self._frames.popitem(last=False)
        return text

    async def _build(self, item: BusItem) -> dict[str, Any]:
        if isinstance(item, ChainEvent):
            if isinstance(item.event, SubmissionJudged):
                return receipt_frame(await self.runtime.receipt_of(item))
            return {
                "type": "event",
                "name": item.name,
                "cursor": str(item.cursor),
                "slot": item.slot,
                "signature": item.signature,
                "pool": _key_text(item.pool),
                "fields": as_dict(item.event),
            }
        if isinstance(item, AccountUpdate):
            return {
                "type": "account",
                "cursor": str(item.cursor),
                "slot": item.slot,
                "pubkey": str(item.pubkey),
                "pool": _key_text(item.pool),
                "account_type": item.name,
                "closed": item.closed,
                "lamports": item.info.lamports if item.info else 0,
                "account": as_dict(item.account) if item.account is not None else None,
            }
        if isinstance(item, OperatorEvent) and isinstance(item.event, RoundEvaluated):
            event = item.event
            return {
                "type": "evaluation",
                "cursor": str(item.cursor),
                "pool": str(event.pool),
                "round": event.round,
                "accuracy": event.accuracy,
                "loss": event.loss,
                "samples": event.samples,
                "global_model_hash": event.global_model_hash.hex(),
            }
        raise TypeError(f"no frame for {type(item).__name__} {getattr(item, 'name', '')}")


def receipt_frame(receipt: Receipt) -> dict[str, Any]:
    """The `receipt` frame of a `frontend_api.runtime.Receipt`."""
    return {
        "type": "receipt",
        "cursor": str(receipt.cursor),
        "slot": receipt.slot,
        "signature": receipt.signature,
        "pool": str(receipt.pool),
        "round": receipt.round,
        "wallet": str(receipt.wallet),
        "update_hash": None if receipt.update_hash is None else receipt.update_hash.hex(),
        "update_cid": receipt.update_cid,
        "verdict": receipt.verdict.value,
        "reason": receipt.reason.code,
        "reason_code": int(receipt.reason),
        "reason_class": receipt.reason.kind.value,
        "score": receipt.score,
        "reward": receipt.reward,
        "slashed": receipt.slashed,
    }


def frame_text(frame: Frame) -> str:
    """A model frame (hello, heartbeat, pong, error) as JSON text."""
    return frame.model_dump_json()
