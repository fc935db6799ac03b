"""The lifespan: settings from the environment, the operator hook entered after
the watcher is synced and left on shutdown, start-up failures by name, and the
API attached read-only to a real validator over RPC."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import websockets
from pydantic import ValidationError

from client_kit.enums import RewardPolicy
from client_kit.gateway.embedded import EmbeddedGateway
from client_kit.gateway.rpc import RpcGateway
from frontend_api import ApiSettings, create_app
from frontend_api.operator import in_process
from frontend_api.runtime import ApiRuntime
from frontend_api.server import ServerDidNotStart, running_server
from offchain.events import RoundEvaluated
from offchain.reference import OperatorData
from offchain.service import OperatorService, ServiceSettings
from tests.conftest import PROGRAM_ID
from tests.frontend_api.feed_client import FeedClient, frame_validator
from tests.frontend_api.test_payout import reveal
from tests.offchain.test_coordinator import _update, tiny_data
from tests.pools import SOL, PoolScenario

pytestmark = pytest.mark.timeout(120)


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEDSTAKE_URL", "localnet")
    monkeypatch.setenv("FEDSTAKE_API_PORT", "9123")
    monkeypatch.setenv("FEDSTAKE_API_CORS_ORIGINS", '["http://a.test"]')
    settings = ApiSettings()
    assert (settings.url, settings.port, settings.cors_origins) == (
        "localnet",
        9123,
        ["http://a.test"],
    )
    monkeypatch.setenv("FEDSTAKE_API_URL", "devnet")  # the API's own variable wins
    assert ApiSettings().url == "devnet"


@pytest.mark.parametrize(
    "bad",
    [{"port": 70_000}, {"pools": ["nope"]}, {"heartbeat_seconds": 0}, {"max_frame_bytes": 1}],
)
def test_bad_settings_are_refused(bad: dict) -> None:
    with pytest.raises(ValidationError):
        ApiSettings(**bad)


async def test_the_operator_hook_runs_inside_the_lifespan_on_the_same_bus(tmp_path: Path) -> None:
    chain = EmbeddedGateway()
    scenario = PoolScenario(chain, tmp_path)
    await scenario.setup()
    await scenario.create()
    steps: list[str] = []

    @contextlib.asynccontextmanager
    async def operator(runtime: ApiRuntime) -> AsyncIterator[None]:
        assert runtime.chain is chain and runtime.watcher.ready
        steps.append("entered")
        evaluated = RoundEvaluated(scenario.key, 1, 0.5, 0.7, 10, bytes(32))
        runtime.bus.publish_operator(evaluated)  # the runtime's own events reach the API
        yield
        steps.append("left")

    settings = ApiSettings(chain=chain, port=0, operator=operator)
    app = create_app(settings)
    async with running_server(app, settings, log_level="warning") as url:
        assert steps == ["entered"]
        assert app.state.runtime.watcher.ready
        async with httpx.AsyncClient(base_url=url) as http:
            assert (await http.get("/api/health")).json()["operator"] is True
        assert app.state.runtime.evaluations.get(scenario.key, 1).event.accuracy == 0.5
    assert steps == ["entered", "left"]


async def test_a_failing_operator_hook_stops_the_start(tmp_path: Path) -> None:
    class Refused(RuntimeError):
        pass

    @contextlib.asynccontextmanager
    async def operator(runtime: ApiRuntime) -> AsyncIterator[None]:
        raise Refused("no keys")
        yield  # pragma: no cover

    settings = ApiSettings(chain=EmbeddedGateway(), port=0, operator=operator)
    app = create_app(settings)
    with pytest.raises(ServerDidNotStart):
        async with running_server(app, settings, log_level="critical"):
            pass
    assert isinstance(app.state.startup_error, Refused)


@pytest.mark.validator
async def test_attached_to_a_validator_over_rpc_the_feed_and_views_follow(
    surfnet, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    # Given the API following a real Surfpool (it opens its own RPC gateway)
    settings = ApiSettings(url=surfnet.rpc_url, ws_url=surfnet.ws_url, port=0)
    app = create_app(settings)
    driver = RpcGateway(surfnet.rpc_url, surfnet.ws_url, program_id=PROGRAM_ID)
    try:
        async with running_server(app, settings, log_level="warning") as url:
            ws = "ws" + url.removeprefix("http")
            client = await FeedClient.connect(ws, await frame_validator(url))
            assert (await client.recv())["type"] == "hello"
            # When a pool is created and funded through the actions
            scenario = PoolScenario(driver, tmp_path)
            await scenario.setup()
            await scenario.create()
            await scenario.fund(12_345)
            # Then the feed carries the events, in order, and the views show the pool
            frames = await client.until(
                lambda f: f.get("name") == "PoolFunded" and f["pool"] == str(scenario.key),
                timeout=60,
            )
            names = [f["name"] for f in frames if f["type"] == "event"]
            assert names.index("PoolCreated") < names.index("PoolFunded")
            async with httpx.AsyncClient(base_url=url) as http:
                view = (await http.get(f"/api/pools/{scenario.key}")).json()
                health = (await http.get("/api/health")).json()
            assert view["total_funded"] == 12_345
            assert health["backend"] == "rpc"
            await client.close()
    finally:
        await driver.close()
    await asyncio.sleep(0)


async def test_the_operator_service_runs_in_process_and_relays_reveals(tmp_path: Path) -> None:
    # Given a pool of two trainers aggregated by the operator's key, and the API
    # starting the operator service in its own process (on its watcher and bus)
    chain = EmbeddedGateway()
    world = PoolScenario(chain, tmp_path / "store")
    await world.setup()
    # Equal policy: the operator here has validation data but no reference set
    await world.create(max_participants=2, max_rounds=1, reward_policy=RewardPolicy.EQUAL)
    await world.fund(SOL)
    for _ in range(2):
        await world.join(await world.new_trainer())
    await world.start()
    service = ServiceSettings(
        tmp_path / "operator",
        organization=world.organization.pubkey(),  # keeps serving after the pool ends
        operator_data=OperatorData(validation=tiny_data(1)),
        poll=0.05,
    )
    hook = in_process(world.store, world.aggregator, service)
    settings = ApiSettings(chain=chain, port=0, operator=hook)
    app = create_app(settings)
    async with running_server(app, settings, log_level="warning") as url:
        runtime = app.state.runtime
        assert isinstance(runtime.relay, OperatorService) and runtime.relay.running
        assert runtime.relay.watcher is runtime.watcher  # one watcher on the bus, not two
        ws = "ws" + url.removeprefix("http")
        feed = await FeedClient.connect(ws, await frame_validator(url), pool=str(world.key))
        # When both trainers commit and reveal (nobody else acts)
        for trainer in world.trainers:
            await world.submit(trainer, _update(world, trainer, 1))
        for trainer in world.trainers:
            await world.reveal(trainer)
        # Then the operator judges and finalizes the round by itself, and the feed
        # carries both receipts and its evaluation, each exactly once
        frames = await feed.until(lambda f: f["type"] == "evaluation", timeout=60)
        receipts = [f for f in frames if f["type"] == "receipt"]
        assert sorted(r["wallet"] for r in receipts) == sorted(
            str(t.wallet.pubkey()) for t in world.trainers
        )
        assert all(r["verdict"] == "Accepted" for r in receipts)
        evaluation = frames[-1]
        assert evaluation["round"] == 1 and 0 <= evaluation["accuracy"] <= 1
        state = await world.round_state(1)
        assert evaluation["global_model_hash"] == bytes(state.global_model_hash).hex()
        async with httpx.AsyncClient(base_url=url) as http:
            health = (await http.get("/api/health")).json()
        assert health["operator"] is True and health["payout_relay"] is True
        # When a trainer reveals its payout secret over /ws/payout
        alice = world.trainers[0]
        unpaid = (await world.participant_state(alice)).reward_unpaid
        socket = await websockets.connect(ws + "/ws/payout")
        assert json.loads(await socket.recv())["type"] == "ready"
        await socket.send(json.dumps(reveal(world, alice)))
        answer = json.loads(await asyncio.wait_for(socket.recv(), 30))
        # Then the service's relayer sent the claim
        assert answer["type"] == "claimed" and answer["amount"] == unpaid > 0
        assert runtime.relay.relayer.relayed == 1
        await socket.close()
        await feed.close()
    # and leaving the lifespan stopped the service
    assert not runtime.relay.running
