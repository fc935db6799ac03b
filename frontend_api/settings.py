"""The API's settings, in one place: flags or `FEDSTAKE_API_*` variables, then defaults.

`ApiSettings` is a pydantic-settings model, so every value can come from the
environment (`FEDSTAKE_API_PORT=9000`, `FEDSTAKE_API_CORS_ORIGINS='["http://a"]'`)
and is validated once, at start. The chain URL also falls back to the client's
`FEDSTAKE_URL`, so `fedstake` and the API agree by default.

Two fields are in-process objects, never read from the environment:

* `chain` — an already open `ChainGateway` to follow instead of opening one from
  `url` (the demo and the tests drive a pool on an embedded chain in the same
  process and let the API watch it). The API never closes a gateway it was given.
* `operator` — an `OperatorHook` the lifespan enters after the watcher is
  ready and leaves before it stops: where the operator runtime (round
  coordinator, payout relayer; `offchain.service`) runs in process, on the same
  gateway, bus and watcher as the feed (`frontend_api.operator.in_process`).
  None: the API only watches (read-only), and relays payout reveals only when
  `relayer_keypair` names a key to pay their fees.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Protocol

from pydantic import AliasChoices, Field, SkipValidation, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from solders.pubkey import Pubkey

from client_kit.gateway.base import ChainGateway
from offchain.payout import Relayed, Reveal

if TYPE_CHECKING:
    from frontend_api.runtime import ApiRuntime


class PayoutRelay(Protocol):
    """What `/ws/payout` relays reveals through: `offchain.payout.PayoutRelayer`
    or `offchain.service.OperatorService` (its relayer task). Raises the named
    `offchain.payout.PayoutError`s."""

    async def relay(self, reveal: Reveal) -> Relayed: ...


class OperatorHook(Protocol):
    """Starts the operator runtime in the API's process.

    Called once by the lifespan with the API's runtime (its `chain`, `bus`
    and the `watcher` feeding that bus), after the watcher is synced; returns
    an async context manager that runs the operator while entered (it
    publishes its own events, e.g. `offchain.events.RoundEvaluated`, on the
    bus) and stops it on exit. What it yields, if it has a `relay` method
    (`PayoutRelay`), is where `/ws/payout` relays reveals. An exception on
    entry fails the API's start-up.
    """

    def __call__(self, runtime: ApiRuntime) -> AbstractAsyncContextManager[PayoutRelay | None]: ...


class ApiSettings(BaseSettings):
    """Settings of `frontend_api.create_app` and `fedstake api serve`.

    Durations are seconds, sizes are bytes or item counts as named. Raises
    pydantic's `ValidationError` for a value out of range.
    """

    model_config = SettingsConfigDict(
        env_prefix="FEDSTAKE_API_", arbitrary_types_allowed=True, extra="forbid"
    )

    url: str = Field(
        "embedded",
        validation_alias=AliasChoices("url", "FEDSTAKE_API_URL", "FEDSTAKE_URL"),
        description="Chain to watch: embedded, localnet, devnet, mainnet or an RPC URL.",
    )
    ws_url: str | None = Field(None, description="PubSub URL (default: next to the RPC URL).")
    embedded_state: str | None = Field(
        None,
        description="On the embedded chain: a state file `fedstake` saved "
        "(`<home>/embedded-state.json`) to load at start.",
    )
    pools: list[str] | None = Field(
        None, description="Follow only these pools (base58 addresses); None: every pool."
    )
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS (`*` for any)."
    )
    page_limit_default: int = Field(50, ge=1, le=10_000)
    page_limit_max: int = Field(500, ge=1, le=10_000)
    heartbeat_seconds: float = Field(15.0, gt=0, le=3_600)
    max_frame_bytes: int = Field(
        4_096, ge=64, le=1 << 20, description="Largest frame a feed client may send."
    )
    bus_retention: int = Field(10_000, ge=1, description="Items kept for resuming feeds.")
    bus_queue_size: int = Field(1_000, ge=1, description="Items queued per feed client.")
    bus_max_gaps: int | None = Field(3, ge=0, description="Gap markers before a client drops.")
    max_feed_clients: int = Field(1_000, ge=1)
    feed_compression: bool = Field(
        False, description="permessage-deflate on websockets (CPU per client per frame)."
    )
    receipts_kept: int = Field(
        100_000, ge=1, description="Judgment receipts remembered for the REST views."
    )
    watcher_ready_timeout: float = Field(30.0, gt=0, description="Start-up sync deadline.")
    relayer_keypair: str | None = Field(
        None,
        description="Without an in-process operator: a keypair file paying the fees of "
        "the claims `/ws/payout` relays (None: reveals are refused, relayer_unavailable).",
    )
    relay_rate: float = Field(
        3.0, gt=0, description="Reveals relayed per participant per minute (that relayer's)."
    )
    payout_frames_per_minute: float = Field(
        30.0, gt=0, description="Reveals one `/ws/payout` connection may send per minute."
    )

    chain: SkipValidation[ChainGateway | None] = Field(None, exclude=True)
    operator: SkipValidation[OperatorHook | None] = Field(None, exclude=True)

    @field_validator("pools")
    @classmethod
    def _pubkeys(cls, value: list[str] | None) -> list[str] | None:
        for text in value or ():
            Pubkey.from_string(text)  # ValueError → ValidationError
        return value

    @property
    def pool_keys(self) -> list[Pubkey] | None:
        return None if self.pools is None else [Pubkey.from_string(p) for p in self.pools]
