"""What only the rpc backend has: websocket subscriptions with reconnect and
backfill, cluster and program checks, Surfpool time travel."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client_kit.accounts import Participant, Pool, decode_account
from client_kit.actions import organization, participant
from client_kit.enums import PoolStatus
from client_kit.errors import ClusterUnreachable, ProgramNotDeployed
from client_kit.gateway import connect_gateway
from client_kit.gateway.base import AccountChange
from client_kit.gateway.rpc import RpcGateway, TimeTravelUnsupported
from tests.gateway.conftest import PROGRAM_ID, Surfnet
from tests.pools import SOL, PoolScenario

pytestmark = pytest.mark.timeout(60)
MEASURED: dict[str, list[float]] = {}


async def next_change(
    queue: asyncio.Queue[AccountChange], key: Pubkey, timeout: float = 10.0
) -> AccountChange:
    """The next change of `key` (others are skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        change = await asyncio.wait_for(queue.get(), max(0.01, deadline - time.monotonic()))
        if change.pubkey == key:
            return change


async def changes_of(
    queue: asyncio.Queue[AccountChange], *keys: Pubkey, timeout: float = 10.0
) -> dict[Pubkey, AccountChange]:
    """The first change of each of `keys`, in whatever order they arrive."""
    found: dict[Pubkey, AccountChange] = {}
    deadline = time.monotonic() + timeout
    while len(found) < len(keys):
        change = await asyncio.wait_for(queue.get(), max(0.01, deadline - time.monotonic()))
        if change.pubkey in keys and change.pubkey not in found:
            found[change.pubkey] = change
    return found


async def test_subscription_delivers_pool_and_participant_changes(
    rpc_chain: RpcGateway, tmp_path
) -> None:
    world = PoolScenario(rpc_chain, tmp_path / "store")
    await world.setup()
    queue = rpc_chain.subscribe()
    await rpc_chain.wait_watching()
    t0 = time.monotonic()
    await world.create()
    sent = time.monotonic()
    created = await next_change(queue, world.key)
    MEASURED.setdefault("confirm", []).append(sent - t0)
    MEASURED.setdefault("notify_after_send_start", []).append(time.monotonic() - t0)
    assert created.info is not None and created.info.owner == PROGRAM_ID
    assert decode_account(Pool, created.info.data).status is PoolStatus.OPEN

    trainer = await world.new_trainer()
    t0 = time.monotonic()
    await world.join(trainer)
    sent = time.monotonic()
    seen = await changes_of(queue, world.participant(trainer), world.key)
    joined = seen[world.participant(trainer)]
    MEASURED["confirm"].append(sent - t0)
    MEASURED["notify_after_send_start"].append(time.monotonic() - t0)
    assert joined.info is not None
    participant = decode_account(Participant, joined.info.data)
    assert participant.wallet == trainer.wallet.pubkey() and participant.stake == SOL // 2
    pool_after_join = seen[world.key]
    assert decode_account(Pool, pool_after_join.info.data).participant_count == 1  # type: ignore[union-attr]

    # a closed account is reported as gone
    await world.cancel()
    await world.withdraw(trainer)
    gone = await next_change(queue, world.participant(trainer))
    assert gone.info is None
    print(
        f"\nrpc timings: {json.dumps({k: [round(x, 3) for x in v] for k, v in MEASURED.items()})}"
    )


class TcpProxy:
    """A loopback TCP forwarder we can take down and bring back on the same port."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = _free_port()
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.writers):
            writer.transport.abort()
        await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def proxied_chain(surfnet: Surfnet) -> AsyncIterator[tuple[RpcGateway, TcpProxy]]:
    proxy = TcpProxy(int(surfnet.ws_url.rsplit(":", 1)[1]))
    await proxy.start()
    gateway = RpcGateway(
        surfnet.rpc_url, f"ws://127.0.0.1:{proxy.port}", program_id=PROGRAM_ID, backoff_max=0.5
    )
    try:
        yield gateway, proxy
    finally:
        await gateway.close()
        if proxy.server is not None and proxy.server.is_serving():
            await proxy.stop()


async def test_no_change_is_lost_across_a_disconnect(
    proxied_chain: tuple[RpcGateway, TcpProxy], tmp_path
) -> None:
    chain, proxy = proxied_chain
    world = PoolScenario(chain, tmp_path / "store")
    await world.setup()
    await world.create()
    await world.fund(SOL)
    trainer = await world.new_trainer()
    await world.join(trainer)
    # the first connect reports the current state of every program account
    queue = chain.subscribe()
    await chain.wait_watching()
    assert (await next_change(queue, world.participant(trainer))).info is not None
    assert chain.connects == 1
    # Let the first backfill and the join's live notifications settle, then
    # forget them: only what the reconnect delivers should count below.
    await asyncio.sleep(1.0)
    while not queue.empty():
        queue.get_nowait()
    # When the websocket goes down and changes happen meanwhile
    await proxy.stop()
    await asyncio.sleep(0.3)
    other = RpcGateway(chain.url, program_id=PROGRAM_ID)  # another client makes the changes
    try:
        await organization.cancel_pool(other, world.organization, world.key)
        await participant.withdraw_stake(other, trainer.wallet, world.key)
    finally:
        await other.close()
    while not queue.empty():  # nothing could have arrived over the dead socket
        assert queue.get_nowait().pubkey not in (world.key, world.participant(trainer))
    t0 = time.monotonic()
    await proxy.start()
    # Then the reconnect's backfill reports both: the changed pool, the closed participant
    seen = await changes_of(queue, world.key, world.participant(trainer))
    MEASURED.setdefault("reconnect_backfill", []).append(time.monotonic() - t0)
    cancelled = seen[world.key]
    assert decode_account(Pool, cancelled.info.data).status is PoolStatus.CANCELLED  # type: ignore[union-attr]
    assert seen[world.participant(trainer)].info is None
    assert chain.connects >= 2
    # And live notifications flow again afterwards
    await world.close()
    assert (await next_change(queue, world.key)).info is None
    print(
        f"\nrpc timings: {json.dumps({k: [round(x, 3) for x in v] for k, v in MEASURED.items()})}"
    )


async def test_unreachable_cluster_fails_fast_with_the_url() -> None:
    url = f"http://127.0.0.1:{_free_port()}"  # bound then released: nothing listens
    chain = RpcGateway(url, program_id=PROGRAM_ID)
    try:
        for action in (
            chain.get_account(PROGRAM_ID),
            chain.unix_time(),
            chain.check_program(),
            chain.send([], [Keypair()]),
        ):
            with pytest.raises(ClusterUnreachable, match=url):
                await action
    finally:
        await chain.close()
    with pytest.raises(ClusterUnreachable, match=url):
        await connect_gateway(url)


async def test_program_not_deployed(surfnet: Surfnet) -> None:
    missing = RpcGateway(surfnet.rpc_url, surfnet.ws_url, program_id=Keypair().pubkey())
    try:
        with pytest.raises(ProgramNotDeployed, match="missing"):
            await missing.check_program()
    finally:
        await missing.close()
    # an account that exists but is not a program
    wallet = Keypair().pubkey()
    plain = RpcGateway(surfnet.rpc_url, surfnet.ws_url, program_id=wallet)
    try:
        await plain.airdrop(wallet, SOL)
        with pytest.raises(ProgramNotDeployed, match="not executable"):
            await plain.check_program()
    finally:
        await plain.close()
    deployed = await connect_gateway(surfnet.rpc_url, ws_url=surfnet.ws_url)
    await deployed.close()


async def test_time_travel_moves_the_clock(rpc_chain: RpcGateway) -> None:
    now = await rpc_chain.unix_time()
    assert await rpc_chain.time_travel(now + 86_400) >= now + 86_400
    assert await rpc_chain.unix_time() >= now + 86_400


class _NoSurfnet(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        reply = {"jsonrpc": "2.0", "id": body["id"]}
        reply["error"] = {"code": -32601, "message": "Method not found"}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


async def test_time_travel_unsupported_is_a_clear_error() -> None:
    server = HTTPServer(("127.0.0.1", 0), _NoSurfnet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    chain = RpcGateway(f"http://127.0.0.1:{server.server_port}", program_id=PROGRAM_ID)
    try:
        with pytest.raises(TimeTravelUnsupported, match="Surfpool"):
            await chain.time_travel(2_000_000_000)
    finally:
        await chain.close()
        server.shutdown()
        server.server_close()
