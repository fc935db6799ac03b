"""The event bus: total order by cursor, bounded memory, lag-and-replay, gap
markers, drops, resume from a cursor with no gap and no duplicate."""

from __future__ import annotations

import asyncio
import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from solders.pubkey import Pubkey

from client_kit.events import PoolFunded
from client_kit.gateway.base import AccountInfo
from offchain.bus import (
    MAX_COMPONENT,
    AccountUpdate,
    ChainEvent,
    Cursor,
    EventBus,
    Gap,
    InvalidCursor,
    SubscriberDropped,
    SubscriptionClosed,
    TooManySubscribers,
)

POOL_A = Pubkey.new_unique()
POOL_B = Pubkey.new_unique()
cursors = st.builds(
    Cursor,
    st.integers(0, MAX_COMPONENT),
    st.integers(0, MAX_COMPONENT),
    st.integers(0, MAX_COMPONENT),
)


FUNDER = Pubkey.new_unique()


def event(cursor: Cursor, pool: Pubkey = POOL_A) -> ChainEvent:
    return ChainEvent(cursor, PoolFunded(pool, FUNDER, cursor.log, cursor.log), "s")


def increasing(n: int, per_tx: int = 3) -> list[Cursor]:
    """n strictly increasing cursors: a few items per transaction, a few txs per slot."""
    return [Cursor(10 + i // (per_tx * 4), (i // per_tx) % 4, i % per_tx) for i in range(n)]


def drain(subscription) -> list:  # type: ignore[no-untyped-def]
    out = []
    while (item := subscription.get_nowait()) is not None:
        out.append(item)
    return out


# --- cursor ----------------------------------------------------------------
@given(cursors)
def test_cursor_text_round_trips(cursor: Cursor) -> None:
    assert Cursor.parse(str(cursor)) == cursor


@given(cursors, cursors)
def test_cursor_order_is_slot_then_tx_then_log(a: Cursor, b: Cursor) -> None:
    assert (a < b) == ((a.slot, a.tx, a.log) < (b.slot, b.tx, b.log))


@given(st.text(max_size=80))
def test_cursor_parse_of_untrusted_text_is_a_cursor_or_a_named_error(text: str) -> None:
    try:
        cursor = Cursor.parse(text)
    except InvalidCursor:
        return
    assert max(cursor) <= MAX_COMPONENT and Cursor.parse(str(cursor)) == cursor


@pytest.mark.parametrize(
    "text", ["", "1:2", "1:2:3:4", "-1:0:0", "1:2:x", " 1:2:3", "١:٢:٣", f"{2**64}:0:0", "1::3"]
)
def test_cursor_parse_rejects(text: str) -> None:
    with pytest.raises(InvalidCursor):
        Cursor.parse(text)


# --- ordering and duplicates ----------------------------------------------
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 3), st.integers(0, 3)), max_size=60))
def test_bus_keeps_exactly_the_strictly_increasing_items_in_order(raw: list) -> None:
    bus = EventBus(queue_size=1_000)
    live = bus.subscribe()
    accepted = []
    for values in raw:
        item = event(Cursor(*values))
        if bus.publish(item):
            accepted.append(item)
    expected, head = [], None
    for values in raw:
        if head is None or Cursor(*values) > head:
            head = Cursor(*values)
            expected.append(head)
    assert [item.cursor for item in accepted] == expected
    assert [item.cursor for item in drain(live)] == expected
    assert bus.duplicates == len(raw) - len(expected)


def test_republishing_the_same_item_is_refused_and_changes_nothing() -> None:
    bus = EventBus()
    first = event(Cursor(5, 0, 0))
    assert bus.publish(first)
    live = bus.subscribe()
    assert not bus.publish(first)
    assert not bus.publish(event(Cursor(4, 9, 9)))
    assert bus.head == first.cursor and bus.retained() == 1 and drain(live) == []
    assert bus.duplicates == 2


# --- resume from a cursor -------------------------------------------------
@given(st.integers(1, 300), st.data())
def test_resume_after_a_disconnect_has_no_gap_and_no_duplicate(n: int, data) -> None:  # type: ignore[no-untyped-def]
    bus = EventBus(retention=400, queue_size=7)
    items = [event(c) for c in increasing(n)]
    cut = data.draw(st.integers(0, n))
    first = bus.subscribe(after=Cursor(0, 0, 0))
    for item in items[:cut]:
        bus.publish(item)
    got = drain(first)
    read = data.draw(st.integers(0, len(got)))
    seen = got[:read]
    first.close()  # the client disconnects, having seen `read` items
    for item in items[cut:]:  # the chain moves on meanwhile
        bus.publish(item)
    resumed = bus.subscribe(after=seen[-1].cursor if seen else Cursor(0, 0, 0))
    assert seen + drain(resumed) == items


@given(st.integers(30, 200), st.integers(5, 25))
def test_resume_from_older_than_retention_gets_a_gap_then_every_retained_item(
    n: int, retention: int
) -> None:
    bus = EventBus(retention=retention, queue_size=4)
    items = [event(c) for c in increasing(n)]
    for item in items:
        bus.publish(item)
    resumed = bus.subscribe(after=Cursor(0, 0, 0))
    got = drain(resumed)
    assert isinstance(got[0], Gap)
    assert got[0].cursor == items[n - retention - 1].cursor and got[0].after == Cursor(0, 0, 0)
    assert got[1:] == items[n - retention :]


def test_resume_from_a_cursor_ahead_of_the_bus_skips_to_it() -> None:
    bus = EventBus()
    items = [event(c) for c in increasing(12)]
    for item in items[:6]:
        bus.publish(item)
    ahead = bus.subscribe(after=items[8].cursor)
    assert drain(ahead) == []
    for item in items[6:]:
        bus.publish(item)
    assert drain(ahead) == items[9:]


# --- backpressure -----------------------------------------------------------
def test_a_slow_subscriber_within_retention_loses_nothing() -> None:
    bus = EventBus(retention=1_000, queue_size=10)
    slow = bus.subscribe()
    items = [event(c) for c in increasing(500)]
    for item in items:
        bus.publish(item)
        assert slow.queued <= 10
    assert slow.lagging
    assert drain(slow) == items and not slow.lagging and slow.gaps == 0


def test_memory_stays_bounded_under_a_subscriber_that_never_reads() -> None:
    bus = EventBus(retention=100, queue_size=10, max_gaps=None)
    stuck = bus.subscribe()
    items = [event(c) for c in increasing(20_000)]
    for item in items:
        bus.publish(item)
        assert stuck.queued <= 10 and bus.retained() <= 100
    assert len(bus._items) <= 2 * 100 + 1_100  # evicted slots are compacted away
    got = drain(stuck)
    # what was queued before it fell behind, a gap, then the retained tail
    assert got[:10] == items[:10]
    assert isinstance(got[10], Gap) and got[10].after == items[9].cursor
    assert got[10].cursor == items[-101].cursor
    assert got[11:] == items[-100:]


def test_a_subscriber_past_max_gaps_is_dropped_and_freed() -> None:
    bus = EventBus(retention=5, queue_size=2, max_gaps=1)
    laggard = bus.subscribe()
    reader = bus.subscribe()
    feed = iter(event(c) for c in increasing(100))
    for _ in range(2):  # the laggard falls behind the history twice
        for _ in range(20):
            bus.publish(next(feed))
            assert all(isinstance(x, ChainEvent) for x in drain(reader))
        if laggard.gaps == 0:
            assert [type(x) for x in drain(laggard)][:3] == [ChainEvent, ChainEvent, Gap]
    with pytest.raises(SubscriberDropped):
        drain(laggard)
    with pytest.raises(SubscriberDropped):
        laggard.get_nowait()
    assert bus.subscriptions == 1 and bus.dropped == 1 and laggard.queued == 0
    assert reader.gaps == 0


def test_mark_gap_reaches_only_subscribers_that_needed_those_positions() -> None:
    bus = EventBus()
    bus.publish(event(Cursor(5, 0, 0)))
    behind = bus.subscribe(after=Cursor(1, 0, 0))
    live = bus.subscribe()
    bus.mark_gap(Cursor(9, 2, 0))
    assert not bus.publish(event(Cursor(9, 1, 0)))  # at or before the gap: refused
    assert bus.next_cursor() == Cursor(9, 2, 1)
    bus.publish(event(Cursor(9, 3, 0)))
    got = drain(behind)
    assert got[0] == event(Cursor(5, 0, 0))
    assert got[1] == Gap(Cursor(9, 2, 0), Cursor(5, 0, 0)) and got[2].cursor == Cursor(9, 3, 0)
    live_items = drain(live)
    assert isinstance(live_items[0], Gap) and live_items[1].cursor == Cursor(9, 3, 0)
    caught_up = bus.subscribe(after=Cursor(9, 2, 0))  # saw everything before the gap
    assert [x.cursor for x in drain(caught_up)] == [Cursor(9, 3, 0)]


def test_select_keeps_only_matching_items_and_never_redelivers_skipped_ones() -> None:
    bus = EventBus(queue_size=3)
    only_b = bus.subscribe(select=lambda item: item.pool == POOL_B)
    items = [event(c, POOL_A if i % 3 else POOL_B) for i, c in enumerate(increasing(30))]
    for item in items:
        bus.publish(item)
    assert drain(only_b) == [x for x in items if x.pool == POOL_B]
    assert only_b.position == items[-1].cursor


# --- async reading ----------------------------------------------------------
async def test_get_waits_for_the_next_item_and_iteration_ends_on_close() -> None:
    bus = EventBus()
    subscription = bus.subscribe()
    waiter = asyncio.create_task(subscription.get())
    await asyncio.sleep(0)
    assert not waiter.done()
    bus.publish(event(Cursor(1, 0, 0)))
    assert (await asyncio.wait_for(waiter, 1)).cursor == Cursor(1, 0, 0)

    async def collect() -> list:
        return [item async for item in subscription]

    collector = asyncio.create_task(collect())
    bus.publish(event(Cursor(1, 0, 1)))
    await asyncio.sleep(0)
    subscription.close()
    assert await asyncio.wait_for(collector, 1) == [event(Cursor(1, 0, 1))]
    with pytest.raises(SubscriptionClosed):
        subscription.get_nowait()
    assert bus.subscriptions == 0


def test_limits_are_enforced() -> None:
    bus = EventBus(max_subscribers=2)
    bus.subscribe()
    bus.subscribe()
    with pytest.raises(TooManySubscribers):
        bus.subscribe()
    for bad in ({"retention": 0}, {"queue_size": 0}, {"max_gaps": -1}):
        with pytest.raises(ValueError):
            EventBus(**bad)  # type: ignore[arg-type]


def test_items_serialize_to_json() -> None:
    info = AccountInfo(5, Pubkey.new_unique(), b"\x01\x02")
    items = [
        event(Cursor(1, 2, 3)),
        AccountUpdate(Cursor(1, 2, 4), POOL_A, 1, info, None),
        AccountUpdate(Cursor(1, 2, 5), POOL_B, 1, None, None),
        Gap(Cursor(1, 2, 6), None),
    ]
    decoded = json.loads(json.dumps([item.as_dict() for item in items]))
    assert [d["kind"] for d in decoded] == ["event", "account", "account", "gap"]
    assert decoded[0]["fields"] == {
        "pool": str(POOL_A), "funder": str(FUNDER), "amount": 3, "total_funded": 3
    }  # fmt: skip
    assert decoded[0]["cursor"] == "1:2:3" and decoded[2]["closed"] is True


# --- a model of many clients reading, lagging and reconnecting -------------
class ClientsReconnecting(RuleBasedStateMachine):
    """Publishers and three clients that read at their own pace and reconnect
    with their last cursor. Every client must see each item at most once, in
    order, and every item it missed must lie inside a gap it was told about."""

    def __init__(self) -> None:
        super().__init__()
        self.bus = EventBus(retention=40, queue_size=5, max_gaps=None)
        self.published: list[Cursor] = []
        self.next_i = 0
        self.clients = [self._client(None) for _ in range(3)]

    def _client(self, after: Cursor | None) -> dict:
        start = after if after is not None else self.bus.head
        return {"sub": self.bus.subscribe(after=after), "seen": [], "gaps": [], "start": start}

    @rule(count=st.integers(1, 30))
    def publish(self, count: int) -> None:
        for _ in range(count):
            i = self.next_i
            self.next_i += 1
            cursor = Cursor(1 + i // 5, i % 5, 0)
            assert self.bus.publish(event(cursor))
            self.published.append(cursor)

    @rule(which=st.integers(0, 2), count=st.integers(1, 50))
    def read(self, which: int, count: int) -> None:
        client = self.clients[which]
        for _ in range(count):
            item = client["sub"].get_nowait()
            if item is None:
                break
            if isinstance(item, Gap):
                client["gaps"].append((item.after, item.cursor))
            else:
                client["seen"].append(item.cursor)

    @precondition(lambda self: self.published)
    @rule(which=st.integers(0, 2))
    def reconnect(self, which: int) -> None:
        client = self.clients[which]
        client["sub"].close()
        last = max([*client["seen"], *(g[1] for g in client["gaps"])], default=client["start"])
        client["sub"] = self.bus.subscribe(after=last if last is not None else Cursor(0, 0, 0))

    @invariant()
    def each_client_sees_items_once_in_order(self) -> None:
        for client in self.clients:
            seen = client["seen"]
            assert all(a < b for a, b in itertools.pairwise(seen))

    @invariant()
    def memory_is_bounded(self) -> None:
        assert self.bus.retained() <= 40
        assert all(client["sub"].queued <= 5 for client in self.clients)

    def teardown(self) -> None:
        for client in self.clients:
            self.read(self.clients.index(client), 10_000)
            seen = set(client["seen"])
            for cursor in self.published:
                if client["start"] is not None and cursor <= client["start"]:
                    continue
                covered = any(
                    (after is None or after < cursor) and cursor <= upto
                    for after, upto in client["gaps"]
                )
                assert cursor in seen or covered, f"{cursor} lost without a gap"


ClientsReconnecting.TestCase.settings = settings(max_examples=60, stateful_step_count=40)
TestClientsReconnecting = ClientsReconnecting.TestCase
