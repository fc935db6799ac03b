"""What only the rpc backend has: its transport primitives (signature history,
transaction fetch, multi-account reads, websocket streams), cluster and program
checks, Surfpool time travel. Following the chain over them (reconnect,
backfill) is tested with `offchain.watcher` in tests/offchain/test_watcher.py."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from solders.keypair import Keypair
from solders.signature import Signature
from websockets.exceptions import ConnectionClosed

from client_kit.accounts import Pool, decode_account
from client_kit.actions.organization import CreatedPool
from client_kit.errors import ClusterUnreachable, ProgramNotDeployed
from client_kit.gateway import connect_gateway
from client_kit.gateway.rpc import (
    AccountNotice,
    LogsNotice,
    RpcGateway,
    SignatureRecord,
    TimeTravelUnsupported,
)
from tests.gateway.conftest import PROGRAM_ID, Surfnet
from tests.gateway.tcp_proxy import free_port
from tests.pools import SOL, PoolScenario

pytestmark = pytest.mark.timeout(60)


async def new_pool(chain: RpcGateway, store: Path) -> tuple[PoolScenario, CreatedPool]:
    """A funded organization and its created pool."""
    world = PoolScenario(chain, store)
    await world.setup()
    return world, await world.create()


async def test_program_signatures_page_in_chain_order(rpc_chain: RpcGateway, tmp_path) -> None:  # type: ignore[no-untyped-def]
    world, _ = await new_pool(rpc_chain, tmp_path)
    # Given a dozen funding transactions sent at once (several land in one slot)
    sent = await asyncio.gather(*[world.fund(1_000 + i) for i in range(12)])
    ours = {result.tx.signature for result in sent}
    # Surfpool also lists the slot it is still building, in an order that changes
    # until the slot is sealed: wait until the node has moved past every one
    last_slot = max([(await rpc_chain.fetch_transaction(sig)).slot for sig in ours])  # type: ignore[union-attr]
    while await rpc_chain.slot() <= last_slot:
        await asyncio.sleep(0.05)
    # When the program's signatures are listed newest first, in pages of 5
    listed: list[SignatureRecord] = []
    before = None
    while True:
        page = await rpc_chain.program_signatures(before=before, limit=5)
        listed += page
        if len(page) < 5 or ours <= {r.signature for r in listed}:
            break
        before = page[-1].signature
    mine = [r for r in listed if r.signature in ours]
    # Then every transaction is there once, slots descend, and within a slot the
    # order is the block's, reversed
    assert {r.signature for r in mine} == ours and len(mine) == len(ours)
    assert [r.slot for r in mine] == sorted((r.slot for r in mine), reverse=True)
    for slot in {r.slot for r in mine}:
        block = await rpc_chain.raw_request(
            "getBlock",
            [slot, {"transactionDetails": "signatures", "maxSupportedTransactionVersion": 0,
                    "rewards": False, "commitment": "confirmed"}],
        )  # fmt: skip
        in_block = [sig for sig in block["signatures"] if sig in ours]
        assert [r.signature for r in mine if r.slot == slot] == in_block[::-1]
    # And `until` stops before a signature (exclusive)
    newest_three = await rpc_chain.program_signatures(until=mine[3].signature)
    assert [r.signature for r in newest_three] == [r.signature for r in listed[:3]]


async def test_fetch_transaction_gives_logs_outcome_and_written_accounts(
    rpc_chain: RpcGateway, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    world, _ = await new_pool(rpc_chain, tmp_path)
    result = (await world.fund(SOL)).tx
    landed = await rpc_chain.fetch_transaction(result.signature)
    assert landed is not None and not landed.failed
    assert landed.signature == result.signature and landed.logs == tuple(result.logs)
    # the pool (which holds the lamports) was written; the funder signed, so it is not listed
    assert set(landed.writable) == {world.key}
    assert await rpc_chain.fetch_transaction(str(Signature.default())) is None


async def test_read_accounts_in_order_with_missing_ones(rpc_chain: RpcGateway, tmp_path) -> None:  # type: ignore[no-untyped-def]
    world, created = await new_pool(rpc_chain, tmp_path)
    missing = Keypair().pubkey()
    slot, infos = await rpc_chain.read_accounts([world.key, missing, world.organization.pubkey()])
    assert slot > 0 and infos[1] is None
    assert infos[0] is not None and decode_account(Pool, infos[0].data).pool_id == created.pool_id
    assert infos[2] is not None and infos[2].data == b""  # a plain wallet


async def test_open_stream_delivers_logs_and_account_notices(
    rpc_chain: RpcGateway, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    world, _ = await new_pool(rpc_chain, tmp_path)
    stream = await rpc_chain.open_stream([()])
    try:
        funded = (await world.fund(SOL)).tx
        seen_logs = seen_pool = False
        while not (seen_logs and seen_pool):
            note = await asyncio.wait_for(stream.recv(), 10)
            if isinstance(note, LogsNotice) and note.signature == funded.signature:
                seen_logs = note.logs == tuple(funded.logs)
            if isinstance(note, AccountNotice) and note.pubkey == world.key:
                assert note.info is not None
                seen_pool = decode_account(Pool, note.info.data).total_funded == SOL
    finally:
        await stream.close()
    with pytest.raises(ConnectionClosed):  # a closed stream says so, it does not hang
        await asyncio.wait_for(stream.recv(), 5)


async def test_open_stream_on_a_dead_websocket_is_a_clear_error(surfnet: Surfnet) -> None:
    dead = f"ws://127.0.0.1:{free_port()}"
    chain = RpcGateway(surfnet.rpc_url, dead, program_id=PROGRAM_ID)
    try:
        with pytest.raises(ClusterUnreachable, match=dead):
            await chain.open_stream([()], open_timeout=2.0)
    finally:
        await chain.close()


async def test_unreachable_cluster_fails_fast_with_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # bound then released: nothing listens
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
