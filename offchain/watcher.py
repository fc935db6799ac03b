"""Follows the chain and feeds the bus: every program event exactly once, in
chain order, and the state of the program accounts in scope.

The gateway only transports (`client_kit` has no long-running loops); this
module owns the loop, the reconnects with capped exponential backoff, the
backfill and the dedup.

Embedded chain
    `EmbeddedGateway` announces every landed transaction synchronously
    (`add_listener`), with its slot, index in the slot, logs and changed
    accounts. Nothing can be missed, so there is nothing to reconnect.

RPC (any cluster, Surfpool in the tests)
    One websocket carries `logsSubscribe` (mentions = program id) and one
    `programSubscribe` per filter list: unfiltered for all pools, or per pool
    the memcmp filters of `client_kit.accounts.pool_filters`. Notifications
    only *wake* the sequencer; what is published comes from reads, so live
    delivery and backfill are one code path:

    1. `getSlot`, then `getSignaturesForAddress(program, until=last sequenced
       signature)`, paged, gives every program transaction since, in chain
       order (newest first, reversed here). Only transactions in slots below
       that slot (sealed) are taken; newer ones wait for the next poll
       (`settle` seconds later). A transaction's rank among the program's
       transactions of its slot is its cursor's `tx`.
    2. `getTransaction` for each (bounded concurrency, consumed in order):
       its events are published at `(slot, rank, i)`, then it becomes the last
       sequenced signature. A crash or disconnect mid-batch resumes after the
       last transaction whose events were all published: none lost, none twice.
    3. The accounts those transactions wrote, plus those `programSubscribe`
       named, are read back with `getMultipleAccounts` and published when
       their content changed (closed accounts, which `programSubscribe` never
       reports, come out as `info=None`).

    After every (re)connect the watcher catches up the same way and then lists
    the accounts in scope with filtered `getProgramAccounts`, publishing what
    differs from what it last published, so an outage loses no state either.
    The stream fails on a websocket close or a keepalive timeout (a frozen
    node), and every RPC call has the gateway's request timeout; any failure
    closes the session, waits `backoff` (doubling up to `backoff_max`) and
    reconnects. Without notifications the sequencer still polls every
    `idle_poll` seconds.

    Events are exactly once and in chain order. An account's state is read,
    so it is at least as new as the events published before it, and may be
    newer (a transaction that lands between the listing and the read shows in
    the state before its events, which follow); per account, states never go
    back in time. On the embedded chain each state follows its own
    transaction's events exactly.

    Surfpool 1.5.0 findings that shaped this (tests/gateway/test_rpc.py and
    docs/bus-and-watcher.md): `getSignaturesForAddress` also lists the slot
    being built, in an order that changes until that slot is sealed (sealed
    slots are stable and match `getBlock`), hence the sealed-slot rule;
    `programSubscribe` notifications carry the slot at which the subscription
    started, not the change's, and arrive at `processed` even when
    `confirmed` was asked; `logsSubscribe` reports failed transactions with
    `err: null` and no logs. So notification contents are never trusted:
    reads are. `getTransaction`, `getMultipleAccounts`, `getBlock` and
    `getProgramAccounts` with memcmp/dataSize filters behave as on a real
    validator.

At start the watcher begins at the chain's tip: positions up to the tip are
declared a gap on the bus (`EventBus.mark_gap`), so a consumer resuming from
an older cursor is told to resync. `run()` may be called again on the same
watcher after it returns or is cancelled: it resumes after the last sequenced
transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

from solders.pubkey import Pubkey

from client_kit.accounts import (
    ACCOUNT_TYPES,
    AccountDecodeError,
    Pool,
    account_kind,
    decode_account,
    pool_filters,
)
from client_kit.errors import FedstakeError
from client_kit.events import EventDecodeError, ProgramEvent, events_from_logs
from client_kit.gateway.base import AccountInfo, ChainGateway, LandedTransaction
from client_kit.gateway.embedded import EmbeddedGateway
from client_kit.gateway.filters import AccountFilter
from client_kit.gateway.rpc import AccountNotice, ProgramStream, RpcGateway, SignatureRecord
from client_kit.idl import load_idl
from offchain.bus import (
    MAX_COMPONENT,
    AccountUpdate,
    ChainEvent,
    Cursor,
    EventBus,
    event_field,
)

log = logging.getLogger(__name__)


class WatcherError(FedstakeError):
    """Root of the watcher's own errors."""


class UnknownPool(WatcherError):
    """A pool to follow has no Pool account on chain."""


class TransactionUnavailable(WatcherError):
    """A listed signature whose transaction the node does not return."""


@dataclass
class WatcherStats:
    """Counters for logs, tests and the status snapshot."""

    connects: int = 0
    disconnects: int = 0
    transactions: int = 0  # program transactions sequenced
    events: int = 0  # events published
    account_updates: int = 0  # account updates published
    declared_gaps: int = 0  # mark_gap calls: start at the tip, restarts, backfill limit
    last_error: str | None = None
    errors: list[str] = field(default_factory=list)  # the last few, newest last


class _Scope:
    """Which events and accounts the watcher publishes: all, or some pools'."""

    def __init__(self, pools: Iterable[Pubkey] | None) -> None:
        self.pools = None if pools is None else frozenset(pools)

    def event(self, event: object) -> bool:
        return self.pools is None or event_field(event, "pool") in self.pools

    def account(self, key: Pubkey, typed: object | None) -> bool:
        if self.pools is None:
            return True
        if key in self.pools:
            return True
        return getattr(typed, "pool", None) in self.pools


class Watcher:
    """Feeds `bus` from `gateway` (an `EmbeddedGateway` or an `RpcGateway`).

    `pools`: follow only these pools (their events, their Pool,
    Participant, Submission and Round accounts); None follows the whole
    program. `backoff_initial`/`backoff_max`: seconds between reconnects
    (doubling, capped). `keepalive`: websocket ping interval and pong timeout
    in seconds. `idle_poll`: seconds without notifications before the
    sequencer polls anyway; `settle`: seconds before it polls again while
    transactions wait for their slot to be sealed; `seal_wait`: at most this
    long after a (re)connect for that before listing the accounts in scope.
    `fetch_concurrency`: `getTransaction` calls in flight. `max_backfill`: most
    transactions caught up after an outage; beyond that the oldest are skipped
    and declared a gap on the bus. `page_size`: `getSignaturesForAddress` page
    (≤ 1000). Raises TypeError for a gateway it cannot follow.
    """

    def __init__(
        self,
        gateway: ChainGateway,
        bus: EventBus,
        *,
        pools: Iterable[Pubkey] | None = None,
        backoff_initial: float = 0.1,
        backoff_max: float = 5.0,
        keepalive: float = 10.0,
        idle_poll: float = 5.0,
        settle: float = 0.1,
        seal_wait: float = 2.0,
        fetch_concurrency: int = 8,
        max_backfill: int = 10_000,
        page_size: int = 1_000,
    ) -> None:
        if not isinstance(gateway, EmbeddedGateway | RpcGateway):
            raise TypeError(f"cannot watch a {type(gateway).__name__}")
        self.gateway = gateway
        self.bus = bus
        self.scope = _Scope(pools)
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.keepalive = keepalive
        self.idle_poll = idle_poll
        self.settle = settle
        self.seal_wait = seal_wait
        self.fetch_concurrency = max(1, fetch_concurrency)
        self.max_backfill = max(1, max_backfill)
        self.page_size = max(1, min(page_size, 1_000))
        self.stats = WatcherStats()
        self._snapshot: dict[Pubkey, tuple[int, bytes]] = {}  # what was last published
        self._deferred: set[Pubkey] = set()  # named by notifications, read later
        self._owners: dict[Pubkey, Pubkey] = {}  # published account -> its pool
        self._started = False
        self._last_signature: str | None = None
        self._tip: tuple[int, int] | None = None  # (slot, rank) of the last sequenced tx
        self._group = Cursor(0, 0, 0)  # where account updates go: after the tip's events
        self._filters: list[list[AccountFilter]] | None = None
        self._stream: ProgramStream | None = None
        self._ready = asyncio.Event()

    # --- public ----------------------------------------------------------
    @property
    def ready(self) -> bool:
        """True while synced: subscriptions live and the catch-up published."""
        return self._ready.is_set()

    async def wait_ready(self, timeout: float = 10.0) -> None:
        """Waits until `ready`; raises TimeoutError after `timeout` seconds."""
        await asyncio.wait_for(self._ready.wait(), timeout)

    async def run(self) -> None:
        """Follows the chain until cancelled. Raises `UnknownPool` for a pool
        that does not exist; connection failures are retried, never raised."""
        try:
            if isinstance(self.gateway, EmbeddedGateway):
                await self._run_embedded(self.gateway)
            else:
                await self._run_rpc(self.gateway)
        finally:
            self._ready.clear()

    # --- embedded --------------------------------------------------------
    async def _run_embedded(self, gateway: EmbeddedGateway) -> None:
        await self._pool_states(gateway)
        last = gateway.last_transaction
        if last is not None and last.index is not None and last.signature != self._last_signature:
            # transactions landed while nobody listened: start after them
            self._begin_after(last.slot, last.index, len(self._events_of(last)))
        self._started = True
        # Listen before listing: what lands meanwhile is held back, and only its
        # events are published (the listing already holds its account changes).
        held: list[LandedTransaction] = []
        gateway.add_listener(held.append)
        try:
            slot = await gateway.slot()
            current = dict(await gateway.program_accounts())
        finally:
            gateway.remove_listener(held.append)
        gateway.add_listener(self._on_landed)
        try:
            self._resync_snapshot(current, slot)
            for landed in held:
                assert landed.index is not None
                self._sequence(landed, landed.slot, landed.index)
            self._ready.set()
            await asyncio.Event().wait()  # until cancelled
        finally:
            gateway.remove_listener(self._on_landed)

    def _on_landed(self, landed: LandedTransaction) -> None:
        assert landed.index is not None
        self._sequence(landed, landed.slot, landed.index)
        self._apply_all(((c.pubkey, c.info) for c in landed.changes), landed.slot)

    # --- rpc -------------------------------------------------------------
    async def _run_rpc(self, gateway: RpcGateway) -> None:
        backoff = self.backoff_initial
        while True:
            try:
                if self._filters is None:
                    self._filters = await self._account_filters(gateway)
                stream = await gateway.open_stream(self._filters, keepalive=self.keepalive)
            except UnknownPool:
                raise
            except Exception as exc:
                self._failed(exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.backoff_max)
                continue
            self.stats.connects += 1
            self._stream = stream
            try:
                if not self._started:
                    await self._begin_at_tip(gateway)
                    self._started = True
                pending = await self._catch_up(gateway)
                deadline = time.monotonic() + self.seal_wait
                while pending and time.monotonic() < deadline:
                    await asyncio.sleep(self.settle)  # let the newest slot seal first:
                    pending = await self._catch_up(gateway)  # events before state
                self._deferred = set()
                await self._resync(gateway)
                self._ready.set()
                backoff = self.backoff_initial
                await self._follow(gateway, stream, pending)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: a fresh session after a pause
                self.stats.disconnects += 1
                self._failed(exc, backoff)
            finally:
                self._ready.clear()
                self._stream = None
                with contextlib.suppress(Exception):
                    await stream.close()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.backoff_max)

    def _failed(self, exc: BaseException, backoff: float) -> None:
        text = _describe(exc)
        self.stats.last_error = text
        self.stats.errors = [*self.stats.errors[-9:], text]
        log.info("watcher: %s; reconnecting in %.2fs", text, backoff)

    async def _account_filters(self, gateway: RpcGateway) -> list[list[AccountFilter]]:
        if self.scope.pools is None:
            return [[]]  # the whole program
        lists: list[list[AccountFilter]] = []
        for pool, state in (await self._pool_states(gateway)).items():
            lists += pool_filters(pool, state.organization, state.pool_id)
        return lists

    async def _pool_states(self, gateway: ChainGateway) -> dict[Pubkey, Pool]:
        """The followed pools' accounts; raises `UnknownPool` for a missing one."""
        states = {}
        for pool in sorted(self.scope.pools or (), key=bytes):
            info = await gateway.get_account(pool)
            if info is None or account_kind(info.data) != "Pool":
                raise UnknownPool(f"no pool account at {pool}")
            states[pool] = decode_account(Pool, info.data)
        return states

    async def _follow(self, gateway: RpcGateway, stream: ProgramStream, pending: bool) -> None:
        wake = asyncio.Event()
        named: set[Pubkey] = set()

        async def pump() -> None:
            while True:
                note = await stream.recv()
                if isinstance(note, AccountNotice):
                    named.add(note.pubkey)
                wake.set()

        async def sequencer() -> None:
            held_back = pending
            while True:
                wait = self.settle if held_back else self.idle_poll
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), wait)
                wake.clear()
                keys = set(named)
                named.clear()
                held_back = await self._catch_up(gateway, extra=keys)

        async with asyncio.TaskGroup() as group:
            group.create_task(pump())
            group.create_task(sequencer())

    async def _begin_at_tip(self, gateway: RpcGateway) -> None:
        """Starts after the newest program transaction of a sealed slot (nothing
        replayed); newer ones, in the slot being built, come next."""
        sealed_below = await gateway.slot()
        page = await gateway.program_signatures(limit=self.page_size)
        while page and page[-1].slot >= sealed_below and len(page) == self.page_size:
            page = await gateway.program_signatures(before=page[-1].signature, limit=self.page_size)
        sealed = [record for record in page if record.slot < sealed_below]
        if not sealed:
            return  # no program transaction in a sealed slot yet: nothing to skip
        tip = sealed[0]
        rank = await self._rank_of_newest(gateway, sealed)
        landed = None if tip.failed else await self._fetch(gateway, tip.signature)
        count = 0 if landed is None else len(self._events_of(landed))
        self._last_signature = tip.signature
        self._begin_after(tip.slot, rank, count)

    async def _rank_of_newest(self, gateway: RpcGateway, page: list[SignatureRecord]) -> int:
        """Rank of `page[0]` among the program's transactions of its (sealed) slot."""
        slot = page[0].slot
        same = sum(1 for record in page if record.slot == slot)
        while len(page) == self.page_size and page[-1].slot == slot:
            page = await gateway.program_signatures(before=page[-1].signature, limit=self.page_size)
            same += sum(1 for record in page if record.slot == slot)
        return same - 1

    async def _catch_up(self, gateway: RpcGateway, *, extra: Iterable[Pubkey] = ()) -> bool:
        """Publishes every program transaction of a sealed slot since the last
        one, then the accounts they (or `extra`) wrote. True when newer
        transactions were held back because their slot is not sealed yet."""
        records, held_back = await self._new_signatures(gateway)
        named = self._deferred | set(extra)
        written: set[Pubkey] = set()
        for start in range(0, len(records), self.fetch_concurrency):
            chunk = records[start : start + self.fetch_concurrency]
            async with asyncio.TaskGroup() as group:
                tasks = [
                    None if r.failed else group.create_task(self._fetch(gateway, r.signature))
                    for r in chunk
                ]
            for record, task in zip(chunk, tasks, strict=True):
                landed = None if task is None else task.result()
                slot, rank = self._next_rank(record.slot)
                if landed is None:  # failed: no events, no state change, still a position
                    landed = LandedTransaction(record.signature, slot, rank, (), failed=True)
                self._sequence(landed, slot, rank)
                written.update(landed.writable)
        # Accounts a notification named while their transaction waits for its
        # slot are read after it, so a transaction's events precede its state.
        self._deferred = named - written if held_back else set()
        if not held_back:
            written |= named
        if written:
            keys = sorted(written, key=bytes)
            slot, infos = await gateway.read_accounts(keys)
            self._apply_all(zip(keys, infos, strict=True), slot)
        return held_back

    async def _new_signatures(self, gateway: RpcGateway) -> tuple[list[SignatureRecord], bool]:
        """Program transactions after the last sequenced one, oldest first, in
        sealed slots only (below the node's slot, read first); and whether newer
        ones were held back. Surfpool lists the slot it is still building, in
        an order that changes until the slot is sealed."""
        sealed_below = await gateway.slot()
        newest_first: list[SignatureRecord] = []
        before = None
        truncated = False
        while True:
            page = await gateway.program_signatures(
                until=self._last_signature, before=before, limit=self.page_size
            )
            newest_first += page
            if len(page) < self.page_size:
                break
            if len(newest_first) >= self.max_backfill:
                truncated = True
                break
            before = page[-1].signature
        sealed = [record for record in newest_first if record.slot < sealed_below]
        held_back = len(sealed) < len(newest_first)
        if truncated:
            return self._skip_to(sealed), held_back
        return sealed[::-1], held_back

    def _skip_to(self, newest_first: list[SignatureRecord]) -> list[SignatureRecord]:
        """Keeps the newest `max_backfill` transactions from a whole slot on
        (oldest first) and declares everything before that slot a gap."""
        kept = newest_first[: self.max_backfill][::-1]
        if not kept:
            return kept
        first_slot = kept[0].slot
        whole = [record for record in kept if record.slot != first_slot] or kept
        log.warning(
            "watcher: more than %d transactions to catch up; skipping to slot %d",
            self.max_backfill,
            whole[0].slot,
        )
        self.bus.mark_gap(Cursor(whole[0].slot - 1, MAX_COMPONENT, MAX_COMPONENT))
        self.stats.declared_gaps += 1
        self._tip = None
        return whole

    async def _fetch(self, gateway: RpcGateway, signature: str) -> LandedTransaction:
        delay = 0.05
        for _attempt in range(8):
            landed = await gateway.fetch_transaction(signature)
            if landed is not None:
                return landed
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
        raise TransactionUnavailable(f"{signature} is listed but getTransaction returns nothing")

    async def _resync(self, gateway: RpcGateway) -> None:
        """Diffs every account in scope (filtered getProgramAccounts) against
        what was last published."""
        slot = await gateway.slot()  # first: what is listed below is at least this new
        current: dict[Pubkey, AccountInfo] = {}
        for filters in self._filters or [[]]:
            for key, info in await gateway.program_accounts(filters):
                current[key] = info
        self._resync_snapshot(current, slot)

    # --- shared: ordering, dedup, publishing -----------------------------
    def _begin_after(self, slot: int, rank: int, events: int) -> None:
        """The watcher starts after transaction (slot, rank) with `events` events."""
        self._tip = (slot, rank)
        self._group = Cursor(slot, rank, events)
        self.bus.mark_gap(Cursor(slot, rank, max(events - 1, 0)))
        self.stats.declared_gaps += 1

    def _next_rank(self, slot: int) -> tuple[int, int]:
        if self._tip is not None and self._tip[0] == slot:
            return slot, self._tip[1] + 1
        return slot, 0

    def _sequence(self, landed: LandedTransaction, slot: int, rank: int) -> None:
        """Publishes a transaction's events at (slot, rank, i) and makes it the tip."""
        events = [] if landed.failed else self._events_of(landed)
        for i, event in enumerate(events):
            if self.scope.event(event):
                item = ChainEvent(Cursor(slot, rank, i), event, landed.signature)
                if self.bus.publish(item):
                    self.stats.events += 1
        self._tip = (slot, rank)
        self._group = Cursor(slot, rank, len(events))
        self._last_signature = landed.signature
        self.stats.transactions += 1

    def _events_of(self, landed: LandedTransaction) -> list[ProgramEvent]:
        """The fedstake events in a transaction's logs; none (logged) if they do
        not decode, so one corrupt transaction cannot stall the watcher."""
        try:
            return events_from_logs(list(landed.logs), self.gateway.program_id)
        except EventDecodeError as exc:
            log.error("watcher: events of %s do not decode: %s", landed.signature, exc)
            return []

    def _resync_snapshot(self, current: dict[Pubkey, AccountInfo], slot: int) -> None:
        gone: list[tuple[Pubkey, AccountInfo | None]] = [
            (key, None) for key in self._snapshot if key not in current
        ]
        self._apply_all([*gone, *current.items()], slot)

    def _apply_all(self, accounts: Iterable[tuple[Pubkey, AccountInfo | None]], slot: int) -> None:
        """`_apply_account` for each."""
        for key, info in accounts:
            self._apply_account(key, info, slot)

    def _apply_account(self, key: Pubkey, info: AccountInfo | None, slot: int) -> None:
        """Publishes `key`'s state if it is in scope and differs from the last published."""
        if info is not None and (info.lamports == 0 or info.owner != self.gateway.program_id):
            info = None  # closed: drained, or handed back to the system program
        seen = self._snapshot.get(key)
        if info is None:
            if seen is None:
                return
            del self._snapshot[key]
            self._publish_update(key, None, None, slot)
            return
        state = (info.lamports, info.data)
        if seen == state:
            return
        typed = _typed(info.data)
        if seen is None and not self.scope.account(key, typed):
            return
        self._snapshot[key] = state
        self._publish_update(key, info, typed, slot)

    def _pool_of(self, key: Pubkey, typed: object | None) -> Pubkey | None:
        if isinstance(typed, Pool):
            return key
        value = getattr(typed, "pool", None)
        return value if isinstance(value, Pubkey) else None

    def _publish_update(
        self, key: Pubkey, info: AccountInfo | None, typed: object | None, slot: int
    ) -> None:
        cursor = max(self._group, self.bus.next_cursor())
        pool = self._pool_of(key, typed) or self._owners.get(key)  # closed: remembered
        update = AccountUpdate(cursor, key, slot, info, typed, pool)
        if info is None:
            self._owners.pop(key, None)
        elif pool is not None:
            self._owners[key] = pool
        if self.bus.publish(update):
            self.stats.account_updates += 1
            self._group = cursor.next()


@cache
def _kinds() -> dict[bytes, type]:
    """Account discriminator → typed account class (from the IDL)."""
    return {load_idl().account_discriminator(name): cls for name, cls in ACCOUNT_TYPES.items()}


def _typed(data: bytes) -> object | None:
    """The fedstake account `data` holds, decoded; None if it is none of them."""
    kind = _kinds().get(bytes(data[:8]))
    if kind is None:
        return None
    try:
        return decode_account(kind, data)
    except AccountDecodeError as exc:
        log.debug("watcher: undecodable %s account: %s", kind.NAME, exc)
        return None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_describe(inner) for inner in exc.exceptions)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
