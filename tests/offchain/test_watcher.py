"""The watcher feeds the bus from the embedded chain and from a real Surfpool:
every event once, in chain order, and the accounts' state, across dropped
websockets and a frozen validator."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client_kit.accounts import Participant, Pool
from client_kit.gateway.base import ChainGateway, TxResult
from client_kit.gateway.embedded import EmbeddedGateway
from client_kit.gateway.rpc import RpcGateway
from client_kit.program import program_path
from offchain.bus import AccountUpdate, ChainEvent, Cursor, EventBus, Gap, Subscription
from offchain.watcher import UnknownPool, Watcher
from scripts.validator import launcher
from tests.conftest import PROGRAM_ID
from tests.gateway.tcp_proxy import TcpProxy
from tests.pools import SOL, PoolScenario

pytestmark = pytest.mark.timeout(120)
Item = ChainEvent | AccountUpdate | Gap


@dataclass
class Followed:
    """A chain to send on, the gateway the watcher uses, the bus it feeds."""

    chain: ChainGateway
    watched: ChainGateway
    bus: EventBus
    backend: str


@pytest.fixture(params=["embedded", pytest.param("rpc", marks=pytest.mark.validator)])
async def followed(request: pytest.FixtureRequest) -> AsyncIterator[Followed]:
    if request.param == "embedded":
        chain = EmbeddedGateway()
        yield Followed(chain, chain, EventBus(), "embedded")
        return
    net = request.getfixturevalue("surfnet")
    chain = RpcGateway(net.rpc_url, net.ws_url, program_id=PROGRAM_ID)
    watched = RpcGateway(net.rpc_url, net.ws_url, program_id=PROGRAM_ID, request_timeout=5.0)
    try:
        yield Followed(chain, watched, EventBus(), "rpc")
    finally:
        await chain.close()
        await watched.close()


@contextlib.asynccontextmanager
async def running(watcher: Watcher) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(watcher.run())
    try:
        await watcher.wait_ready(20)
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def read_until(
    subscription: Subscription, done: Callable[[list[Item]], bool], timeout: float = 20.0
) -> list[Item]:
    """Items from `subscription` until `done(items)` holds."""
    items: list[Item] = []
    deadline = time.monotonic() + timeout
    while not done(items):
        items.append(await asyncio.wait_for(subscription.get(), deadline - time.monotonic()))
    return items


def funded(items: list[Item], pool: Pubkey | None = None) -> list[int]:
    """Amounts of the PoolFunded events among `items` (of `pool`, if given)."""
    return [
        item.event.fields["amount"]
        for item in items
        if isinstance(item, ChainEvent)
        and item.name == "PoolFunded"
        and (pool is None or item.pool == pool)
    ]


def names(items: list[Item]) -> list[str]:
    """Names of the events among `items`, in order."""
    return [item.name for item in items if isinstance(item, ChainEvent)]


def latest(items: list[Item], key: Pubkey) -> AccountUpdate | None:
    updates = [i for i in items if isinstance(i, AccountUpdate) and i.pubkey == key]
    return updates[-1] if updates else None


async def sealed(chain: ChainGateway, result: TxResult) -> None:
    """Until the slot `result` landed in is sealed (the node has moved past it)."""
    if isinstance(chain, RpcGateway):
        landed = await chain.fetch_transaction(result.signature)
        assert landed is not None
        while await chain.slot() <= landed.slot:
            await asyncio.sleep(0.05)


def closed_with(key: Pubkey, event: str) -> Callable[[list[Item]], bool]:
    """Done once `key` is reported closed and an `event` event has arrived."""

    def done(items: list[Item]) -> bool:
        update = latest(items, key)
        return update is not None and update.closed and event in names(items)

    return done


async def created_pool(chain: ChainGateway, store: Path) -> PoolScenario:
    """A funded organization's new pool."""
    world = PoolScenario(chain, store)
    await world.setup()
    await world.create()
    return world


def strictly_increasing(items: list[Item]) -> bool:
    return all(a.cursor < b.cursor for a, b in itertools.pairwise(items))


# --- both backends ---------------------------------------------------------
async def test_watcher_follows_pool_and_participant_state(followed: Followed, tmp_path) -> None:  # type: ignore[no-untyped-def]
    world = PoolScenario(followed.chain, tmp_path)
    await world.setup()
    await sealed(followed.chain, (await world.create()).tx)
    watcher = Watcher(followed.watched, followed.bus)
    async with running(watcher):
        subscription = followed.bus.subscribe(after=Cursor(0, 0, 0))
        # Given the pool existed before the watcher started: a gap, then its state
        items = await read_until(subscription, lambda xs: latest(xs, world.key) is not None)
        assert isinstance(items[0], Gap)
        created = latest(items, world.key)
        assert isinstance(created.account, Pool) and created.account.status == "Open"
        # When a trainer joins
        trainer = await world.new_trainer()
        joined = await world.join(trainer)
        items = await read_until(
            subscription,
            lambda xs: (
                latest(xs, world.participant(trainer)) is not None
                and "ParticipantJoined" in names(xs)
            ),
        )
        # Then its event and the participant's state arrive
        events = [i for i in items if isinstance(i, ChainEvent)]
        assert [(e.name, e.signature) for e in events] == [
            ("ParticipantJoined", joined.tx.signature)
        ]
        participant = latest(items, world.participant(trainer)).account
        assert isinstance(participant, Participant)
        assert participant.wallet == trainer.wallet.pubkey() and participant.stake == SOL // 2
        items += await read_until(
            subscription,
            lambda xs: (
                (u := latest(items + xs, world.key)) is not None
                and u.account.participant_count == 1
            ),
        )
        # When the pool is cancelled and the trainer withdraws (closing its account)
        await world.cancel()
        await world.withdraw(trainer)
        more = await read_until(
            subscription, closed_with(world.participant(trainer), "StakeWithdrawn")
        )
        # Then both events, in order, and the closed account is reported as such
        assert names(more) == ["PoolCancelled", "StakeWithdrawn"]
        assert strictly_increasing(items + more)
        closed = latest(more, world.participant(trainer))
        assert closed.account is None and closed.pool == world.key
        if followed.backend == "embedded":  # exact: each state right after its event
            withdrawn = next(i for i in more if getattr(i, "name", "") == "StakeWithdrawn")
            assert closed.cursor.slot == withdrawn.cursor.slot
            assert closed.cursor.tx == withdrawn.cursor.tx


async def test_events_from_every_sender_reach_the_bus_once_in_chain_order(
    followed: Followed, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    worlds = [PoolScenario(followed.chain, tmp_path) for _ in range(3)]
    for world in worlds:
        await world.setup()
        await world.create()
    watcher = Watcher(followed.watched, followed.bus)
    async with running(watcher):
        subscription = followed.bus.subscribe()
        # When three organizations fund their pools concurrently
        amounts = {
            world.key: [1_000 + 10 * i + n for i in range(8)] for n, world in enumerate(worlds)
        }
        sent = await asyncio.gather(
            *[world.fund(amount) for world in worlds for amount in amounts[world.key]]
        )
        everything = sorted(a for values in amounts.values() for a in values)
        items = await read_until(subscription, lambda xs: len(funded(xs)) >= len(everything))
        # Then each event arrives once, in one strictly increasing order
        assert sorted(funded(items)) == everything
        assert strictly_increasing(items)
        for world in worlds:
            assert sorted(funded(items, world.key)) == amounts[world.key]
        events = [i for i in items if isinstance(i, ChainEvent) and i.name == "PoolFunded"]
        assert {e.signature for e in events} == {r.tx.signature for r in sent}
        if followed.backend == "embedded":  # one transaction at a time: send order
            assert [e.signature for e in events] == [r.tx.signature for r in sent]
        else:  # the block's order, slot by slot
            assert isinstance(followed.chain, RpcGateway)
            for slot in sorted({e.slot for e in events}):
                block = await followed.chain.raw_request(
                    "getBlock",
                    [slot, {"transactionDetails": "signatures", "rewards": False,
                            "maxSupportedTransactionVersion": 0, "commitment": "confirmed"}],
                )  # fmt: skip
                in_slot = [e.signature for e in events if e.slot == slot]
                assert in_slot == [sig for sig in block["signatures"] if sig in set(in_slot)]
                assert [e.cursor.tx for e in events if e.slot == slot] == sorted(
                    e.cursor.tx for e in events if e.slot == slot
                )
        # And a consumer that disconnects mid-way resumes with no gap and no duplicate
        resumed = followed.bus.subscribe(after=events[0].cursor)
        again = await read_until(resumed, lambda xs: len(funded(xs)) >= 23)
        assert [i.cursor for i in again] == [i.cursor for i in items if i.cursor > events[0].cursor]


async def test_a_pool_scoped_watcher_publishes_only_that_pool(followed: Followed, tmp_path) -> None:  # type: ignore[no-untyped-def]
    mine, other = PoolScenario(followed.chain, tmp_path), PoolScenario(followed.chain, tmp_path)
    for world in (mine, other):
        await world.setup()
        await world.create()
    watcher = Watcher(followed.watched, followed.bus, pools=[mine.key])
    async with running(watcher):
        subscription = followed.bus.subscribe()
        trainers = [await mine.new_trainer(), await other.new_trainer()]
        await other.fund(7)
        await other.join(trainers[1])
        await mine.fund(5)
        await mine.join(trainers[0])
        items = await read_until(
            subscription, lambda xs: latest(xs, mine.participant(trainers[0])) is not None
        )
        assert funded(items) == [5]
        assert {i.pool for i in items} == {mine.key}
        updated = {i.pubkey for i in items if isinstance(i, AccountUpdate)}
        assert updated == {mine.key, mine.participant(trainers[0])}
    with pytest.raises(UnknownPool):
        await Watcher(followed.watched, EventBus(), pools=[Keypair().pubkey()]).run()


# --- embedded ----------------------------------------------------------------
async def test_a_restarted_watcher_declares_what_it_missed_as_a_gap(tmp_path) -> None:  # type: ignore[no-untyped-def]
    chain = EmbeddedGateway()
    bus = EventBus()
    world = await created_pool(chain, tmp_path)
    watcher = Watcher(chain, bus)
    subscription = bus.subscribe()
    async with running(watcher):
        await world.fund(1)
    await world.fund(2)  # nobody listening
    async with running(watcher):
        await world.fund(3)
    items = []
    while (item := subscription.get_nowait()) is not None:
        items.append(item)
    kinds = [
        (type(i).__name__, funded([i]) or None) for i in items if not isinstance(i, AccountUpdate)
    ]
    assert kinds == [("Gap", None), ("ChainEvent", [1]), ("Gap", None), ("ChainEvent", [3])]
    assert strictly_increasing(items)


def test_only_gateways_it_knows_can_be_watched() -> None:
    with pytest.raises(TypeError):
        Watcher(object(), EventBus())  # type: ignore[arg-type]


# --- Surfpool: a dropped websocket, an outage --------------------------------
@pytest.fixture
async def proxied(surfnet) -> AsyncIterator[tuple[RpcGateway, RpcGateway, TcpProxy]]:  # type: ignore[no-untyped-def]
    """A sender, and a watched gateway whose websocket runs through a proxy."""
    proxy = TcpProxy(int(surfnet.ws_url.rsplit(":", 1)[1]))
    await proxy.start()
    chain = RpcGateway(surfnet.rpc_url, surfnet.ws_url, program_id=PROGRAM_ID)
    watched = RpcGateway(
        surfnet.rpc_url, f"ws://127.0.0.1:{proxy.port}", program_id=PROGRAM_ID, request_timeout=5.0
    )
    try:
        yield chain, watched, proxy
    finally:
        await chain.close()
        await watched.close()
        if proxy.serving:
            await proxy.stop()


async def keep_funding(world: PoolScenario, amounts: itertools.count, sent: list[int]) -> None:
    """Lands funding transactions one after another until cancelled."""
    while True:
        amount = next(amounts)
        await world.fund(amount)
        sent.append(amount)


@pytest.mark.validator
async def test_no_event_is_lost_or_duplicated_across_a_dropped_websocket(proxied, tmp_path) -> None:  # type: ignore[no-untyped-def]
    chain, watched, proxy = proxied
    world = await created_pool(chain, tmp_path)
    bus = EventBus()
    watcher = Watcher(watched, bus, backoff_max=0.5, idle_poll=30.0)
    async with running(watcher):
        subscription = bus.subscribe()
        sent: list[int] = []
        sender = asyncio.create_task(keep_funding(world, itertools.count(1), sent))
        try:
            # Given events flowing
            items = await read_until(subscription, lambda xs: len(funded(xs)) >= 3)
            # When the websocket is cut while transactions keep landing
            await proxy.stop()
            landed_before = len(sent)
            while len(sent) < landed_before + 5:
                await asyncio.sleep(0.1)
            assert watcher.stats.disconnects >= 1 and not watcher.ready
            await proxy.start()
            await watcher.wait_ready(20)
            while len(sent) < landed_before + 10:
                await asyncio.sleep(0.1)
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
        # Then every landed event arrives exactly once, in order
        items += await read_until(subscription, lambda xs: len(funded(items + xs)) >= len(sent))
        assert funded(items)[: len(sent)] == sent
        assert strictly_increasing(items)
        assert watcher.stats.connects >= 2


@pytest.mark.validator
async def test_no_state_change_is_lost_across_a_disconnect(proxied, tmp_path) -> None:  # type: ignore[no-untyped-def]
    chain, watched, proxy = proxied
    world = await created_pool(chain, tmp_path)
    await world.fund(SOL)
    trainer = await world.new_trainer()
    await sealed(chain, (await world.join(trainer)).tx)
    bus = EventBus()
    watcher = Watcher(watched, bus, backoff_max=0.5, idle_poll=30.0)
    async with running(watcher):
        subscription = bus.subscribe(after=Cursor(0, 0, 0))
        # the first connect reports the current state of every program account (in the
        # order getProgramAccounts lists them: wait for both)
        state = await read_until(
            subscription,
            lambda xs: all(
                latest(xs, key) is not None for key in (world.key, world.participant(trainer))
            ),
        )
        assert latest(state, world.key).account.status == "Open"
        # When the websocket goes down and another client changes the pool meanwhile
        await proxy.stop()
        await world.cancel()
        await world.withdraw(trainer)
        await proxy.start()
        # Then the reconnect reports both: the cancelled pool, the closed participant
        items = await read_until(
            subscription, closed_with(world.participant(trainer), "StakeWithdrawn")
        )
        assert latest(items, world.key).account.status == "Cancelled"
        assert names(items) == ["PoolCancelled", "StakeWithdrawn"]
        # And live changes flow again afterwards
        await world.close()
        items = await read_until(subscription, closed_with(world.key, "PoolClosed"))
        assert names(items) == ["PoolClosed"]
        assert watcher.stats.connects >= 2


@pytest.mark.validator
async def test_an_outage_longer_than_max_backfill_is_declared_a_gap(proxied, tmp_path) -> None:  # type: ignore[no-untyped-def]
    chain, watched, proxy = proxied
    world = await created_pool(chain, tmp_path)
    bus = EventBus()
    watcher = Watcher(watched, bus, backoff_max=0.5, idle_poll=30.0, max_backfill=4, page_size=2)
    async with running(watcher):
        subscription = bus.subscribe()
        await proxy.stop()
        for amount in range(1, 11):  # ten transactions while the watcher is away
            await world.fund(amount)
        await proxy.start()
        items = await read_until(subscription, lambda xs: 10 in funded(xs))
        # Then a gap first, then only the newest transactions, whole slots of them
        assert isinstance(items[0], Gap)
        caught_up = funded(items)
        assert 1 <= len(caught_up) <= 4 and caught_up == list(range(11 - len(caught_up), 11))
        await world.fund(11)
        assert funded(await read_until(subscription, lambda xs: bool(funded(xs)))) == [11]


@pytest.mark.validator
@pytest.mark.skipif(launcher.unavailable_reason() is not None, reason="no local validator")
async def test_a_frozen_validator_is_noticed_and_caught_up_after(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Surfpool keeps its state in memory only, so instead of a restart the
    validator process is frozen (SIGSTOP) past the keepalive, then resumed."""
    with program_path() as so_path:
        rpc_url, ws_url, stop = launcher.start_validator(so_path, str(PROGRAM_ID), workdir=tmp_path)
    chain = RpcGateway(rpc_url, ws_url, program_id=PROGRAM_ID, request_timeout=60.0)
    watched = RpcGateway(rpc_url, ws_url, program_id=PROGRAM_ID, request_timeout=2.0)
    frozen = False
    try:
        world = await created_pool(chain, tmp_path)
        bus = EventBus()
        # a first reconnect attempt 3 s after the stall is noticed, so what lands
        # right after the validator resumes lands while the watcher is away
        watcher = Watcher(
            watched, bus, keepalive=0.5, backoff_initial=3.0, backoff_max=3.0, idle_poll=30.0
        )
        async with running(watcher):
            subscription = bus.subscribe()
            for amount in (1, 2, 3):
                await world.fund(amount)
            before = await read_until(subscription, lambda xs: len(funded(xs)) >= 3)
            # When the validator freezes for longer than the keepalive
            os.kill(stop.pid, signal.SIGSTOP)
            frozen = True
            deadline = time.monotonic() + 20
            while watcher.stats.disconnects == 0 and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert watcher.stats.disconnects >= 1, "the watcher did not notice the stall"
            # Transactions sent meanwhile land the moment it resumes
            pending = [asyncio.create_task(world.fund(amount)) for amount in (4, 5, 6)]
            await asyncio.sleep(0.5)
            os.kill(stop.pid, signal.SIGCONT)
            frozen = False
            await asyncio.gather(*pending)
            assert not watcher.ready, "the watcher reconnected before they landed"
            await watcher.wait_ready(20)
            for amount in (7, 8):
                await world.fund(amount)
            after = await read_until(subscription, lambda xs: len(funded(xs)) >= 5)
        # Then the watcher reconnected and every event arrived once, in order
        assert funded(before) == [1, 2, 3]
        assert sorted(funded(after)) == [4, 5, 6, 7, 8] and funded(after)[-2:] == [7, 8]
        assert strictly_increasing(before + after)
        assert watcher.stats.connects >= 2
        assert any("keepalive" in error for error in watcher.stats.errors), watcher.stats.errors
    finally:
        if frozen:
            os.kill(stop.pid, signal.SIGCONT)
        await chain.close()
        await watched.close()
        stop()
