"""`/ws/payout` over a real server (uvicorn on loopback, real websockets):
a reveal pays the committed wallet once; every refusal is named, sends
nothing and changes nothing; the salt is never logged; the connection
survives bad frames and closes with 1009 on an oversized one."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest
import websockets
from solders.keypair import Keypair

from client_kit.keys import write_keypair
from frontend_api import ApiSettings, create_app
from frontend_api.server import running_server
from tests.offchain.test_payout import _finished_pool, _sent, assert_salt_absent
from tests.pools import SOL, PoolScenario, Trainer

pytestmark = pytest.mark.timeout(120)


@dataclass
class PayoutServer:
    url: str
    world: PoolScenario
    fees: Keypair
    validator: jsonschema_rs.Draft202012Validator

    @property
    def ws(self) -> str:
        return "ws" + self.url.removeprefix("http") + "/ws/payout"

    async def connect(self) -> PayoutClient:
        socket = await websockets.connect(self.ws)
        client = PayoutClient(socket, self.validator)
        assert (await client.recv())["type"] == "ready"
        return client

    async def snapshot(self) -> tuple[Any, ...]:
        """Everything a refused reveal must leave as it was."""
        chain, world = self.world.chain, self.world
        states = [await world.participant_state(t) for t in world.trainers]
        payouts = [await chain.get_balance(t.payout.pubkey()) for t in world.trainers]
        return (*states, *payouts, await chain.get_balance(self.fees.pubkey()))


class PayoutClient:
    def __init__(self, socket, validator) -> None:  # type: ignore[no-untyped-def]
        self.socket = socket
        self.validator = validator

    async def recv(self, timeout: float = 10.0) -> dict[str, Any]:
        frame = json.loads(await asyncio.wait_for(self.socket.recv(), timeout))
        self.validator.validate(frame)
        return frame  # type: ignore[no-any-return]

    async def ask(self, payload: dict[str, Any] | str | bytes) -> dict[str, Any]:
        await self.socket.send(json.dumps(payload) if isinstance(payload, dict) else payload)
        return await self.recv()


def reveal(world: PoolScenario, trainer: Trainer, **changes: Any) -> dict[str, Any]:
    assert trainer.secret is not None
    frame = {
        "pool": str(world.key),
        "participant": str(trainer.wallet.pubkey()),
        "payout_wallet": str(trainer.secret.payout_wallet),
        "salt": trainer.secret.salt.hex(),
    }
    return frame | changes


@pytest.fixture
async def server(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[PayoutServer]:
    """A finished pool (alice earned 0.6 SOL, bob 0.4, the third was slashed)
    and an API relaying with its own fee payer."""
    marker = request.node.get_closest_marker("api_settings")
    world = await _finished_pool(tmp_path)
    fees = Keypair()
    await world.chain.airdrop(fees.pubkey(), SOL)
    key_file = write_keypair(tmp_path / "relayer.json", fees)
    settings = ApiSettings(
        chain=world.chain,
        port=0,
        relayer_keypair=str(key_file),
        **(marker.kwargs if marker else {}),
    )
    async with running_server(create_app(settings), settings, log_level="debug") as url:
        async with httpx.AsyncClient(base_url=url) as http:
            schema = (await http.get("/schema/payout")).json()
        validator = jsonschema_rs.Draft202012Validator(schema["server"])
        yield PayoutServer(url, world, fees, validator)


async def test_a_reveal_pays_the_committed_wallet_once_and_a_replay_is_refused(
    server: PayoutServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="websockets.client")  # the test's own client
    world = server.world
    alice = world.trainers[0]
    paid_before = await world.chain.get_balance(alice.payout.pubkey())
    client = await server.connect()
    # When alice's payout secret is revealed over the websocket
    answer = await client.ask(reveal(world, alice, id="a-1"))
    # Then the claim was relayed: her committed wallet got 0.6 SOL
    assert answer["type"] == "claimed", answer
    assert (answer["id"], answer["amount"]) == ("a-1", 6 * SOL // 10)
    assert answer["payout_wallet"] == str(alice.payout.pubkey())
    assert await world.chain.get_balance(alice.payout.pubkey()) - paid_before == answer["amount"]
    assert (await world.participant_state(alice)).reward_unpaid == 0
    # When the same reveal is replayed, on another connection
    before, sent = await server.snapshot(), _sent(world.chain)
    again = await (await server.connect()).ask(reveal(world, alice, id=7))
    # Then it is named, nothing is sent and nothing changes
    assert (again["type"], again["code"], again["id"]) == ("error", "already_claimed", 7)
    assert sent == [] and await server.snapshot() == before
    # and no log line, the server's debug logs included, carries the salt
    assert_salt_absent(caplog, alice.secret.salt)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "case",
    [
        "wrong_salt",
        "other_wallet",
        "unknown_participant",
        "unknown_pool",
        "nothing_to_claim",
        "not_json",
        "missing_salt",
        "salt_not_hex",
        "short_salt",
        "bad_address",
        "extra_field",
        "long_id",
        "not_an_object",
        "binary",
    ],
)
async def test_a_refused_reveal_is_named_and_changes_nothing(
    server: PayoutServer, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="websockets.client")  # the test's own client
    world = server.world
    alice, bob, slashed = world.trainers
    stranger = Keypair()
    wrong = "01" * 32
    frame, code = {
        "wrong_salt": (reveal(world, alice, salt=wrong), "wrong_salt"),
        "other_wallet": (
            reveal(world, alice, payout_wallet=str(bob.payout.pubkey())),
            "wrong_salt",
        ),
        "unknown_participant": (
            reveal(world, alice, participant=str(stranger.pubkey())),
            "unknown_participant",
        ),
        "unknown_pool": (reveal(world, alice, pool=str(stranger.pubkey())), "unknown_pool"),
        "nothing_to_claim": (reveal(world, slashed), "nothing_to_claim"),
        "not_json": ("{pool: " + alice.secret.salt.hex(), "bad_frame"),  # type: ignore[union-attr]
        "missing_salt": (
            {k: v for k, v in reveal(world, alice).items() if k != "salt"},
            "bad_frame",
        ),
        "salt_not_hex": (reveal(world, alice, salt="zz" * 32), "bad_frame"),
        "short_salt": (reveal(world, alice, salt=alice.secret.salt.hex()[:62]), "bad_frame"),  # type: ignore[union-attr]
        "bad_address": (reveal(world, alice, payout_wallet="0OIl"), "bad_frame"),
        "extra_field": (reveal(world, alice, amount=10 * SOL), "bad_frame"),
        "long_id": (reveal(world, alice, id="x" * 65), "bad_frame"),
        "not_an_object": (json.dumps([reveal(world, alice)]), "bad_frame"),
        "binary": (json.dumps(reveal(world, alice)).encode(), "bad_frame"),
    }[case]
    before, sent = await server.snapshot(), _sent(world.chain)
    client = await server.connect()
    # When the reveal is sent
    answer = await client.ask(frame)
    # Then a named error, nothing sent on chain, no state changed
    assert (answer["type"], answer["code"]) == ("error", code), answer
    assert sent == [] and await server.snapshot() == before
    # and the connection stays open: alice's own reveal still goes through
    assert (await client.ask(reveal(world, alice)))["type"] == "claimed"
    assert_salt_absent(caplog, alice.secret.salt)  # type: ignore[union-attr]


@pytest.mark.api_settings(payout_frames_per_minute=2)
async def test_a_connection_sending_too_many_reveals_is_rate_limited(server: PayoutServer) -> None:
    world = server.world
    client = await server.connect()
    wrong = reveal(world, world.trainers[0], salt="02" * 32)
    assert [(await client.ask(wrong))["code"] for _ in range(2)] == ["wrong_salt"] * 2
    before, sent = await server.snapshot(), _sent(world.chain)
    # When a third reveal comes within the minute, even a valid one
    answer = await client.ask(reveal(world, world.trainers[0]))
    # Then it is refused as rate limited, before the relayer sees it
    assert (answer["type"], answer["code"]) == ("error", "rate_limited")
    assert sent == [] and await server.snapshot() == before


@pytest.mark.api_settings(relay_rate=1)
async def test_a_participant_revealing_too_often_is_rate_limited(server: PayoutServer) -> None:
    world = server.world
    alice = world.trainers[0]
    client = await server.connect()
    assert (await client.ask(reveal(world, alice, salt="03" * 32)))["code"] == "wrong_salt"
    before = await server.snapshot()
    # its second reveal within the minute, from a fresh connection: the relayer's own limit
    answer = await (await server.connect()).ask(reveal(world, alice))
    assert (answer["type"], answer["code"]) == ("error", "rate_limited")
    assert await server.snapshot() == before


async def test_an_oversized_frame_closes_with_1009_and_sends_nothing(server: PayoutServer) -> None:
    world = server.world
    before, sent = await server.snapshot(), _sent(world.chain)
    client = await server.connect()
    await client.socket.send(json.dumps(reveal(world, world.trainers[0], id="x" * 5_000)))
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await client.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    assert sent == [] and await server.snapshot() == before


async def test_without_a_relay_the_connection_is_refused_by_name(tmp_path: Path) -> None:
    world = await _finished_pool(tmp_path)
    settings = ApiSettings(chain=world.chain, port=0)  # read-only: nobody pays fees
    async with running_server(create_app(settings), settings, log_level="warning") as url:
        async with httpx.AsyncClient(base_url=url) as http:
            assert (await http.get("/api/health")).json()["payout_relay"] is False
        socket = await websockets.connect("ws" + url.removeprefix("http") + "/ws/payout")
        frame = json.loads(await asyncio.wait_for(socket.recv(), 5))
        assert (frame["type"], frame["code"]) == ("error", "relayer_unavailable")
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
