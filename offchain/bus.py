"""The operator runtime's event bus: chain events, account updates and the
operator's own events in one order.

Everything the watcher learns from the chain is published here once, and every
consumer (the round coordinator, the payout relayer, the API's websocket feed)
reads it through its own bounded subscription. The operator runtime publishes
what only it knows (`offchain.events`, e.g. a round's test accuracy) on the
same bus, so the feed carries both in one order.

Cursor
------
Every item carries a `Cursor(slot, tx, log)`; cursors compare as tuples and the
bus accepts an item only if its cursor is greater than the last one published,
so the items form one strictly increasing sequence and a republished item (a
watcher backfilling what it already saw) is refused as a duplicate.

* A program event sits at its chain position: `slot`, `tx` = the
  transaction's index within that slot (embedded chain: its index in the block;
  rpc: its rank among the program's transactions of that slot, as
  `getSignaturesForAddress` orders them), `log` = the event's index among the
  transaction's events.
* An account update sits in the group of the last transaction the watcher had
  sequenced when it observed the state, after that transaction's events:
  `log` = number of events + k. The state is at least as new as that
  transaction. On the embedded chain the updates of a transaction follow its
  own events exactly.
* `str(cursor)` is `"slot:tx:log"` and `Cursor.parse` reads it back (the
  websocket feed's resume token).
* An operator event (`OperatorEvent`, `publish_operator`) takes the next
  position after everything published, like an account update observed then.

Event positions are the chain's, so they agree across processes; account
update positions are the bus's own.

Backpressure policy
-------------------
The publisher never waits and memory never grows without bound:

1. **Retained history.** The bus keeps the last `retention` items (default
   10 000). Older items are evicted; the newest evicted cursor becomes the
   *horizon*: positions up to it can no longer be replayed.
2. **Bounded queues.** Each subscription has a queue of at most `queue_size`
   items (default 1 000). Publishing appends to every subscription that has
   room.
3. **Lagging instead of losing.** When a subscription's queue is full, the bus
   stops queueing for it: it becomes *lagging*. Once it has drained its queue
   it is refilled from the retained history, starting right after the last
   item it was given, and goes live again when it has caught up. A slow
   subscriber within the retained history loses nothing and sees nothing twice.
4. **Gap marker.** If the items a subscription needs have already been
   evicted (it fell more than `retention` items behind, or resumed from a cursor
   older than the history), it receives a `Gap` whose `cursor` is the horizon,
   then continues with the oldest retained item. A `Gap` means: re-read the
   state you follow from the chain (the source of truth), then carry on.
   The watcher also declares gaps itself (`mark_gap`): a bus starts after the
   chain's tip at start-up, so a cursor from before it gets a `Gap` too.
5. **Dropped past a limit.** A subscription that would receive more than
   `max_gaps` gap markers (default 3) is dropped instead: its queue is freed
   and its next read raises `SubscriberDropped`. A websocket client then
   reconnects with its last cursor.

Memory: at most `retention + max_subscribers × queue_size` items (shared
objects, not copies). Subscribe-from-cursor is the same mechanism as lagging:
`subscribe(after=c)` starts lagging at `c`, replays the retained items after
`c`, then goes live, with no gap and no duplicate between the two.

The bus is single-threaded: publish and read from the event loop's thread.
"""

from __future__ import annotations

import asyncio
import logging
import re
from bisect import bisect_right
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

from solders.pubkey import Pubkey

from client_kit.accounts import as_dict
from client_kit.errors import FedstakeError
from client_kit.gateway.base import AccountInfo

log = logging.getLogger(__name__)
MAX_COMPONENT = 2**64 - 1  # slots and indexes are u64 on chain
_CURSOR_TEXT = re.compile(r"([0-9]{1,20}):([0-9]{1,20}):([0-9]{1,20})")


class BusError(FedstakeError):
    """Root of the bus's errors."""


class InvalidCursor(BusError, ValueError):
    """Text that is not a `slot:tx:log` cursor of three u64 decimals."""


class SubscriberDropped(BusError):
    """The subscription fell behind more than `max_gaps` times and was dropped."""


class SubscriptionClosed(BusError):
    """Read from a subscription after `close()`."""


class TooManySubscribers(BusError):
    """`subscribe` beyond the bus's `max_subscribers`."""


class Cursor(NamedTuple):
    """A position in the bus's total order: (slot, transaction index, log index)."""

    slot: int
    tx: int
    log: int

    def __str__(self) -> str:
        return f"{self.slot}:{self.tx}:{self.log}"

    @classmethod
    def parse(cls, text: str) -> Cursor:
        """`"slot:tx:log"` → Cursor; raises `InvalidCursor` for anything else."""
        match = _CURSOR_TEXT.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise InvalidCursor(f"not a slot:tx:log cursor: {text!r:.80}")
        values = [int(group) for group in match.groups()]
        if max(values) > MAX_COMPONENT:
            raise InvalidCursor(f"cursor component above u64: {text!r:.80}")
        return cls(*values)

    def next(self) -> Cursor:
        """The next position in the same transaction group."""
        return Cursor(self.slot, self.tx, self.log + 1)


class _CarriesEvent:
    """`name` and `pool` of an item that carries a typed event in `event`."""

    __slots__ = ()
    event: Any

    @property
    def name(self) -> str:
        """The event's name (`NAME` of its class: the IDL's, or `offchain.events`')."""
        return getattr(self.event, "NAME", None) or type(self.event).__name__

    @property
    def pool(self) -> Pubkey | None:
        """The event's `pool` field, if it has one."""
        value = event_field(self.event, "pool")
        return value if isinstance(value, Pubkey) else None


@dataclass(frozen=True, slots=True)
class ChainEvent(_CarriesEvent):
    """A program event (the typed `client_kit.events` dataclass) at its chain position."""

    KIND: ClassVar[str] = "event"
    cursor: Cursor
    event: Any
    signature: str

    @property
    def slot(self) -> int:
        return self.cursor.slot

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (`client_kit.accounts.as_dict` conventions for the fields)."""
        return {
            "kind": self.KIND,
            "cursor": str(self.cursor),
            "name": self.name,
            "slot": self.slot,
            "signature": self.signature,
            "fields": as_dict(self.event),
        }


@dataclass(frozen=True, slots=True)
class AccountUpdate:
    """A program account's state, at least as new as `slot`.

    `info` is the raw account (None once closed); `account` is the typed
    account `client_kit.accounts` decodes it to (None for data that is no
    fedstake account type, and for closed accounts); `pool` is the pool it
    belongs to (a Pool account: itself), when known.
    """

    KIND: ClassVar[str] = "account"
    cursor: Cursor
    pubkey: Pubkey
    slot: int
    info: AccountInfo | None
    account: Any | None = None
    pool: Pubkey | None = None

    @property
    def closed(self) -> bool:
        return self.info is None

    @property
    def name(self) -> str | None:
        """The account type's name (`Pool`, `Participant`, …), if decoded."""
        return getattr(self.account, "NAME", None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.KIND,
            "cursor": str(self.cursor),
            "pubkey": str(self.pubkey),
            "pool": None if self.pool is None else str(self.pool),
            "slot": self.slot,
            "type": self.name,
            "closed": self.closed,
            "lamports": self.info.lamports if self.info else 0,
            "account": as_dict(self.account) if self.account is not None else None,
        }


@dataclass(frozen=True, slots=True)
class Gap:
    """Items after `after` up to and including `cursor` may be missing: resync.

    The subscription continues with the items after `cursor`; store
    `gap.cursor` as the last position seen, like any item's.
    """

    KIND: ClassVar[str] = "gap"
    cursor: Cursor
    after: Cursor | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.KIND,
            "cursor": str(self.cursor),
            "after": None if self.after is None else str(self.after),
        }


@dataclass(frozen=True, slots=True)
class OperatorEvent(_CarriesEvent):
    """An event the operator runtime itself publishes (not the chain): one of
    `offchain.events` (e.g. `RoundEvaluated`), at a position of the bus's own,
    like an account update (`EventBus.publish_operator`)."""

    KIND: ClassVar[str] = "operator"
    cursor: Cursor
    event: Any

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.KIND,
            "cursor": str(self.cursor),
            "name": self.name,
            "fields": as_dict(self.event),
        }


BusItem = ChainEvent | AccountUpdate | OperatorEvent
Select = Callable[[BusItem], bool]


def event_field(event: Any, name: str) -> Any:
    """A field of a decoded event, or None if it has no such field."""
    return getattr(event, name, None)


class EventBus:
    """Bounded, cursor-ordered fan-out of `ChainEvent`s, `AccountUpdate`s and
    `OperatorEvent`s.

    See the module docstring for the cursor and the backpressure policy.
    `retention`, `queue_size` and `max_subscribers` are item/subscriber counts
    (≥ 1); `max_gaps` is the number of gap markers a subscription may receive
    before it is dropped (None: never dropped).
    """

    def __init__(
        self,
        *,
        retention: int = 10_000,
        queue_size: int = 1_000,
        max_gaps: int | None = 3,
        max_subscribers: int = 1_000,
    ) -> None:
        if min(retention, queue_size, max_subscribers) < 1:
            raise ValueError("retention, queue_size and max_subscribers must be ≥ 1")
        if max_gaps is not None and max_gaps < 0:
            raise ValueError("max_gaps must be ≥ 0 or None")
        self.retention = retention
        self.queue_size = queue_size
        self.max_gaps = max_gaps
        self.max_subscribers = max_subscribers
        self._items: list[BusItem | Gap] = []  # Gap(after=None): a mark_gap
        self._start = 0  # index of the oldest retained item in _items
        self._head: Cursor | None = None
        self._horizon: Cursor | None = None
        self._subscriptions: list[Subscription] = []
        self._observers: list[Callable[[BusItem], None]] = []
        self.published = 0
        self.duplicates = 0
        self.evicted = 0
        self.gaps = 0
        self.dropped = 0

    # --- publishing ------------------------------------------------------
    @property
    def head(self) -> Cursor | None:
        """The last position taken (published or skipped by `mark_gap`)."""
        return self._head

    @property
    def horizon(self) -> Cursor | None:
        """The newest evicted position: positions up to it can no longer be
        replayed (None: nothing evicted yet)."""
        return self._horizon

    def next_cursor(self) -> Cursor:
        """Where an observation (an account update) can be published now."""
        return Cursor(0, 0, 0) if self._head is None else self._head.next()

    def publish(self, item: BusItem) -> bool:
        """Appends `item` and fans it out; False (and nothing else) if its cursor
        is not after `head` — a duplicate or stale item. Never blocks."""
        if self._head is not None and item.cursor <= self._head:
            self.duplicates += 1
            return False
        self._append(item)
        self.published += 1
        for observer in list(self._observers):
            try:
                observer(item)
            except Exception:  # an observer's bug must not stop the bus
                log.exception("bus observer %r failed on %s", observer, item.cursor)
        return True

    def add_observer(self, observer: Callable[[BusItem], None]) -> None:
        """Calls `observer(item)` for every item published from now on, inside
        `publish`, before any subscription reads it. For cheap bookkeeping that
        must never lag (an index the subscribers' readers consult); it must not
        block or publish. Exceptions are logged and ignored."""
        self._observers.append(observer)

    def remove_observer(self, observer: Callable[[BusItem], None]) -> None:
        if observer in self._observers:
            self._observers.remove(observer)

    def _append(self, item: BusItem | Gap) -> None:
        self._head = item.cursor
        self._items.append(item)
        if len(self._items) - self._start > self.retention:
            evicted = self._items[self._start]
            self._items[self._start] = None  # type: ignore[call-overload]
            self._start += 1
            self.evicted += 1
            if self._horizon is None or evicted.cursor > self._horizon:
                self._horizon = evicted.cursor
            if self._start > 1024 and self._start * 2 > len(self._items):
                del self._items[: self._start]
                self._start = 0
        for subscription in self._subscriptions:
            subscription._offer(item)

    def publish_operator(self, event: Any) -> OperatorEvent:
        """Publishes an operator-side event (`offchain.events`) at `next_cursor()`:
        after everything published so far, in the group of the last transaction
        (the same place an account update observed now would take)."""
        item = OperatorEvent(self.next_cursor(), event)
        self.publish(item)
        return item

    def mark_gap(self, up_to: Cursor) -> None:
        """Positions up to and including `up_to` will never be published (the
        watcher started after them or skipped them). The mark takes its place in
        the order: subscriptions reaching it get a `Gap` there, after the items
        published before it. No-op if `up_to` is not after `head`."""
        if self._head is not None and up_to <= self._head:
            return
        self._append(Gap(up_to, None))

    # --- reading ---------------------------------------------------------
    def subscribe(
        self, after: Cursor | None = None, *, select: Select | None = None
    ) -> Subscription:
        """A subscription to the items after `after` (None: from now on).

        `select` keeps only the items it returns True for (gap markers always
        pass). Raises `TooManySubscribers` past `max_subscribers`.
        """
        if len(self._subscriptions) >= self.max_subscribers:
            raise TooManySubscribers(f"bus already has {self.max_subscribers} subscriptions")
        if after is None:
            subscription = Subscription(self, self._head, select, lagging=False)
        else:
            subscription = Subscription(self, after, select, lagging=True)
        self._subscriptions.append(subscription)
        return subscription

    @property
    def subscriptions(self) -> int:
        return len(self._subscriptions)

    def retained(self) -> int:
        """Number of items kept for replay."""
        return len(self._items) - self._start

    def _after(self, position: Cursor | None) -> int:
        """Index in `_items` of the first retained item after `position`."""
        if position is None:
            return self._start
        return bisect_right(self._items, position, lo=self._start, key=_cursor_of)

    def _remove(self, subscription: Subscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)


def _cursor_of(item: BusItem | Gap) -> Cursor:
    return item.cursor


class Subscription:
    """One consumer's view of the bus: `await get()` or `async for item in sub`.

    Yields `ChainEvent`, `AccountUpdate`, `OperatorEvent` and `Gap` items in cursor
    order.
    `position` is the last cursor this subscription was given or skipped past
    (pass it as `after` to resume elsewhere). Raises `SubscriberDropped` once
    dropped and `SubscriptionClosed` after `close()`.
    """

    def __init__(
        self, bus: EventBus, position: Cursor | None, select: Select | None, *, lagging: bool
    ) -> None:
        self._bus = bus
        self._select = select
        self._queue: deque[BusItem] = deque()
        self._lagging = lagging
        self._ready = asyncio.Event()
        self._dropped = False
        self._closed = False
        self.position = position
        self.gaps = 0

    @property
    def lagging(self) -> bool:
        return self._lagging

    @property
    def queued(self) -> int:
        return len(self._queue)

    def _offer(self, item: BusItem | Gap) -> None:
        if self._lagging:
            self._ready.set()  # a reader waiting on an empty queue refills from history
            return
        if self.position is not None and item.cursor <= self.position:
            return  # resumed from a cursor ahead of this item
        if len(self._queue) >= self._bus.queue_size:
            self._lagging = True
            self._ready.set()
            return
        self._take(item)
        self._ready.set()

    def _take(self, item: BusItem | Gap) -> None:
        """Queues `item` (a mark becomes this subscription's Gap) and moves on."""
        if isinstance(item, Gap):
            self._queue.append(Gap(item.cursor, self.position))
        elif self._select is None or self._select(item):
            self._queue.append(item)
        self.position = item.cursor

    def get_nowait(self) -> BusItem | Gap | None:
        """The next item, or None when there is nothing to read yet."""
        if self._dropped:
            raise SubscriberDropped("subscription dropped after too many gaps; resubscribe")
        if self._closed:
            raise SubscriptionClosed("subscription is closed")
        if self._queue:
            return self._pop()
        if self._lagging:
            return self._refill()
        return None

    async def get(self) -> BusItem | Gap:
        """Waits for the next item."""
        while True:
            item = self.get_nowait()
            if item is not None:
                return item
            self._ready.clear()
            await self._ready.wait()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> BusItem | Gap:
        try:
            return await self.get()
        except SubscriptionClosed:
            raise StopAsyncIteration from None

    def close(self) -> None:
        """Leaves the bus and frees the queue (idempotent)."""
        self._closed = True
        self._queue.clear()
        self._bus._remove(self)
        self._ready.set()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _refill(self) -> BusItem | Gap | None:
        bus = self._bus
        if bus.horizon is not None and (self.position is None or self.position < bus.horizon):
            # what this subscription needs next was evicted
            self._queue.append(Gap(bus.horizon, self.position))
            self.position = bus.horizon
        else:
            index = bus._after(self.position)
            end = len(bus._items)
            while index < end and len(self._queue) < bus.queue_size:
                self._take(bus._items[index])
                index += 1
            if index >= end:
                self._lagging = False
        return self._pop()

    def _pop(self) -> BusItem | Gap | None:
        if not self._queue:
            return None
        item = self._queue.popleft()
        if isinstance(item, Gap):
            bus = self._bus
            if bus.max_gaps is not None and self.gaps >= bus.max_gaps:
                self._drop()
                raise SubscriberDropped(
                    f"subscription dropped: more than {bus.max_gaps} gaps; resubscribe"
                )
            self.gaps += 1
            bus.gaps += 1
        return item

    def _drop(self) -> None:
        self._dropped = True
        self._queue.clear()
        self._bus._remove(self)
        self._bus.dropped += 1
