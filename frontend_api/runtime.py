"""What the API runs while it serves: a gateway, the bus, the watcher feeding it,
and two small books the views need that the chain does not keep.

* `ReceiptBook` — per submission, the revealed update's hash and CID (from
  `UpdateRevealed`) and the judgment receipt (from `SubmissionJudged`: verdict
  class, reason, reward, slash, and the judging transaction's signature, which
  no account stores).
* `EvaluationBook` — per pool and round, the operator's `RoundEvaluated`
  (test accuracy and loss), an off-chain event.

Both are kept by a bus observer (inside `publish`, so they are up to date before
any feed client reads the item) and bounded (oldest entries go first).
`ApiRuntime.running` is the lifespan's body: open (or take) the gateway, start
the watcher and the books, wait until the watcher is synced, enter the
operator hook if the settings carry one, and undo all of it on exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from solders.pubkey import Pubkey

from client_kit.actions.reads import find_submission, instructions
from client_kit.enums import Reason, Verdict
from client_kit.events import SubmissionJudged, UpdateRevealed
from client_kit.gateway.base import ChainGateway
from client_kit.gateway.embedded import EmbeddedGateway
from client_kit.gateway.factory import connect_gateway
from client_kit.idl import field_to_cid
from client_kit.keys import load_keypair
from frontend_api.settings import ApiSettings, PayoutRelay
from offchain.bus import (
    BusItem,
    ChainEvent,
    Cursor,
    EventBus,
    OperatorEvent,
)
from offchain.events import RoundEvaluated
from offchain.payout import PayoutRelayer
from offchain.watcher import Watcher

log = logging.getLogger(__name__)
SubmissionKey = tuple[Pubkey, int, Pubkey]  # (pool, round, wallet)


@dataclass(frozen=True)
class Receipt:
    """What a participant learns about one update once it is judged.

    `update_hash` is the 32-byte SHA-256 of the update bytes it revealed and
    `update_cid` where they are (both None when it never revealed — verdict
    Slashed, reason `not_revealed` — or when neither the `UpdateRevealed`
    event nor the account could be read); `verdict` is the class (Accepted,
    Excluded, Slashed), `score` basis points of the round's reward, `reward`
    and `slashed` lamports, `signature` the `judge_submission` transaction's,
    `cursor` the event's bus position.
    """

    pool: Pubkey
    round: int
    wallet: Pubkey
    update_hash: bytes | None
    update_cid: str | None
    verdict: Verdict
    reason: Reason
    score: int
    reward: int
    slashed: int
    signature: str
    slot: int
    cursor: Cursor


class _Bounded(OrderedDict):
    """An insertion-ordered dict that forgets its oldest entries past `limit`."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def __setitem__(self, key, value) -> None:  # type: ignore[no-untyped-def]
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.limit:
            self.popitem(last=False)


Revealed = tuple[bytes, str]  # (update_hash, update_cid)


class ReceiptBook:
    """Revealed updates and judgment receipts by (pool, round, wallet); at most
    `limit` of each, oldest forgotten first."""

    def __init__(self, limit: int = 100_000) -> None:
        self._revealed: _Bounded = _Bounded(limit)
        self._receipts: _Bounded = _Bounded(limit)

    def observe(self, item: ChainEvent) -> None:
        event = item.event
        if isinstance(event, UpdateRevealed):
            revealed = (bytes(event.update_hash), field_to_cid(event.update_cid))
            self._revealed[(event.pool, event.round, event.wallet)] = revealed
        elif isinstance(event, SubmissionJudged):
            self._receipts[(event.pool, event.round, event.wallet)] = self.receipt_for(item)

    def revealed(self, key: SubmissionKey) -> Revealed | None:
        return self._revealed.get(key)

    def receipt(self, key: SubmissionKey) -> Receipt | None:
        return self._receipts.get(key)

    def receipt_for(self, item: ChainEvent, revealed: Revealed | None = None) -> Receipt:
        """The receipt of a `SubmissionJudged` chain event (what was revealed:
        from this book unless given)."""
        event = item.event
        key = (event.pool, event.round, event.wallet)
        update_hash, update_cid = revealed or self._revealed.get(key) or (None, None)
        return Receipt(
            pool=event.pool,
            round=event.round,
            wallet=event.wallet,
            update_hash=update_hash,
            update_cid=update_cid,
            verdict=event.verdict,
            reason=event.reason,
            score=event.score,
            reward=event.reward,
            slashed=event.slashed,
            signature=item.signature,
            slot=item.slot,
            cursor=item.cursor,
        )


@dataclass(frozen=True)
class Evaluation:
    """A `RoundEvaluated` and where it sat on the bus."""

    event: RoundEvaluated
    cursor: Cursor


class EvaluationBook:
    """The operator's latest evaluation of each (pool, round); at most `limit`."""

    def __init__(self, limit: int = 100_000) -> None:
        self._by_round: _Bounded = _Bounded(limit)

    def observe(self, item: OperatorEvent) -> None:
        if isinstance(item.event, RoundEvaluated):
            event = item.event
            self._by_round[(event.pool, event.round)] = Evaluation(event, item.cursor)

    def get(self, pool: Pubkey, round_number: int) -> Evaluation | None:
        return self._by_round.get((pool, round_number))


class ApiRuntime:
    """The gateway, bus, watcher and books one app serves from.

    Build it with `running(settings)`; `chain`, `bus`, `watcher`, `receipts`
    and `evaluations` are then live. `backend` is `"embedded"` or `"rpc"`;
    `relay` is the payout relay (the in-process operator's, or a
    `PayoutRelayer` paying with `settings.relayer_keypair`; None: none).
    """

    def __init__(self, chain: ChainGateway, bus: EventBus, watcher: Watcher, limit: int) -> None:
        self.relay: PayoutRelay | None = None  # where /ws/payout relays reveals
        self.chain = chain
        self.bus = bus
        self.watcher = watcher
        self.receipts = ReceiptBook(limit)
        self.evaluations = EvaluationBook(limit)
        self.instructions = instructions(chain)  # PDA derivation for the chain's program id
        self.backend = "embedded" if isinstance(chain, EmbeddedGateway) else "rpc"

    def observe(self, item: BusItem) -> None:
        """Feeds the books one bus item (the bus calls it on every publish)."""
        if isinstance(item, ChainEvent):
            self.receipts.observe(item)
        elif isinstance(item, OperatorEvent):
            self.evaluations.observe(item)

    async def receipt_of(self, item: ChainEvent) -> Receipt:
        """The receipt of a `SubmissionJudged` event; what was revealed comes
        from the book, or from the submission account when the book does not
        have it (the API started after the reveal)."""
        event = item.event
        revealed = self.receipts.revealed((event.pool, event.round, event.wallet))
        if revealed is None:
            with contextlib.suppress(Exception):  # a failed read leaves it unknown
                found = await find_submission(self.chain, event.pool, event.round, event.wallet)
                if found is not None and found.revealed:
                    revealed = (bytes(found.update_hash), found.update_cid_str)
        return self.receipts.receipt_for(item, revealed)

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, settings: ApiSettings) -> AsyncIterator[ApiRuntime]:
        """Opens the chain (or takes `settings.chain`), starts the watcher and
        the books, waits until synced (`settings.watcher_ready_timeout`), enters
        `settings.operator`; stops and closes what it opened on exit. Raises
        `ClusterUnreachable`/`ProgramNotDeployed` for a chain it cannot use,
        `UnknownPool` for a followed pool that does not exist, TimeoutError
        when the watcher does not sync in time, `KeypairError` for a
        `relayer_keypair` that cannot be read."""
        async with contextlib.AsyncExitStack() as stack:
            chain = settings.chain
            if chain is None:
                chain = await connect_gateway(settings.url, ws_url=settings.ws_url)
                stack.push_async_callback(chain.close)
                if isinstance(chain, EmbeddedGateway) and settings.embedded_state:
                    chain.load_state(Path(settings.embedded_state).expanduser())
            bus = EventBus(
                retention=settings.bus_retention,
                queue_size=settings.bus_queue_size,
                max_gaps=settings.bus_max_gaps,
                # feed clients, plus room for the operator runtime's own readers
                max_subscribers=settings.max_feed_clients + 8,
            )
            watcher = Watcher(chain, bus, pools=settings.pool_keys)
            runtime = cls(chain, bus, watcher, settings.receipts_kept)
            bus.add_observer(runtime.observe)
            group = await stack.enter_async_context(_TaskGroup())
            watching = group.start(watcher.run(), "api-watcher")
            ready = asyncio.ensure_future(watcher.wait_ready(settings.watcher_ready_timeout))
            await asyncio.wait({ready, watching}, return_when=asyncio.FIRST_COMPLETED)
            if watching.done():  # the watcher gave up (e.g. UnknownPool) before syncing
                ready.cancel()
                watching.result()
            await ready
            if settings.operator is not None:
                started = await stack.enter_async_context(settings.operator(runtime))
                if callable(getattr(started, "relay", None)):
                    runtime.relay = started
            if runtime.relay is None and settings.relayer_keypair is not None:
                runtime.relay = PayoutRelayer(
                    chain, load_keypair(settings.relayer_keypair), max_rate=settings.relay_rate
                )
            yield runtime


class _TaskGroup:
    """Background tasks that are cancelled and awaited on exit (the lifespan's
    tasks must not outlive it). Unlike `asyncio.TaskGroup`, a failing task does
    not cancel the app: it is logged, and its result raised by whoever awaits it."""

    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, coro, name: str) -> asyncio.Task[None]:  # type: ignore[no-untyped-def]
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(_log_failure)
        self._tasks.append(task)
        return task

    async def __aenter__(self) -> _TaskGroup:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("api: %s stopped: %r", task.get_name(), task.exception())
