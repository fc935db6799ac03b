"""`/ws/feed` over a real uvicorn server on loopback, following an embedded
chain the test drives in the same event loop. Every frame received is checked
against the schema the server serves at `/schema/feed`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from offchain.events import RoundEvaluated
from tests.frontend_api.conftest import Served
from tests.frontend_api.feed_client import FeedClient, cursor_key, frame_validator, stream_items
from tests.frontend_api.story import judged_round
from tests.pools import SOL

pytestmark = pytest.mark.timeout(120)


async def feed(served: Served, **query: str) -> tuple[FeedClient, dict]:
    client = await FeedClient.connect(served.ws, await frame_validator(served.url), **query)
    hello = await client.recv()
    assert hello["type"] == "hello"
    return client, hello


async def close_code(client: FeedClient, timeout: float = 5.0) -> int | None:
    """Reads until the server closes; the close code it sent."""
    with contextlib.suppress(ConnectionClosed):
        while True:
            await asyncio.wait_for(client.socket.recv(), timeout)
    return client.socket.close_code


async def test_a_pools_events_and_states_arrive_once_in_chain_order(served: Served) -> None:
    scenario = served.scenario
    await scenario.create()
    client, hello = await feed(served, pool=str(scenario.key))
    assert hello["pool"] == str(scenario.key)

    await scenario.fund(3 * SOL)
    trainer = await scenario.new_trainer()
    await scenario.join(trainer)
    frames = await client.until(lambda f: f.get("name") == "ParticipantJoined")
    frames += await client.until(lambda f: f.get("account_type") == "Participant")

    cursors = [cursor_key(f["cursor"]) for f in frames]
    assert cursors == sorted(set(cursors))  # strictly increasing: ordered, no duplicate
    events = [f["name"] for f in frames if f["type"] == "event"]
    assert events == ["PoolFunded", "ParticipantJoined"]
    funded = next(f for f in frames if f.get("name") == "PoolFunded")
    assert funded["fields"]["amount"] == 3 * SOL
    assert all(f["pool"] == str(scenario.key) for f in frames)
    participant = frames[-1]["account"]
    assert participant["wallet"] == str(trainer.wallet.pubkey())
    assert participant["stake"] == (await scenario.participant_state(trainer)).stake
    await client.close()


async def test_only_the_chosen_pools_items_are_sent(served: Served) -> None:
    scenario = served.scenario
    await scenario.create()
    mine = scenario.key
    client, _ = await feed(served, pool=str(mine))
    await scenario.create()  # a second pool of the same organization
    other = scenario.key
    scenario.pool = mine
    await scenario.fund(SOL)
    frames = await client.until(lambda f: f.get("name") == "PoolFunded")
    assert {f["pool"] for f in stream_items(frames)} == {str(mine)}
    assert other != mine
    await client.close()


async def test_resume_after_a_disconnect_has_no_gap_and_no_duplicate(served: Served) -> None:
    # Given a client connected throughout, and one that disconnects midway
    scenario = served.scenario
    await scenario.create()
    whole, _ = await feed(served)
    broken, _ = await feed(served)
    await scenario.fund(SOL)
    first = await broken.until(lambda f: f.get("name") == "PoolFunded")
    await broken.close()
    # When transactions land while it is away, and it comes back with its cursor
    trainers = [await scenario.new_trainer() for _ in range(3)]
    for trainer in trainers:
        await scenario.join(trainer)
    await scenario.fund(2 * SOL)
    resumed, hello = await feed(served, cursor=broken.last_cursor)
    assert hello["cursor"] == broken.last_cursor
    await scenario.fund(5)
    done = lambda f: f.get("name") == "PoolFunded" and f["fields"]["amount"] == 5  # noqa: E731
    second = await resumed.until(done)
    reference = await whole.until(done)
    # Then what it got before and after equals the uninterrupted stream, frame for frame
    assert stream_items(first) + stream_items(second) == stream_items(reference)
    assert not any(f["type"] == "gap" for f in second)
    for client in (whole, resumed):
        await client.close()


async def test_receipts_give_hash_verdict_reason_signature_and_reward(served: Served) -> None:
    scenario = served.scenario
    client, _ = await feed(served)
    story = await judged_round(scenario)
    frames = await client.until(lambda f: f.get("name") == "RoundFinalized")
    receipts = {f["wallet"]: f for f in frames if f["type"] == "receipt"}
    assert set(receipts) == set(story.judged)
    assert not any(f.get("name") == "SubmissionJudged" for f in frames)  # sent as receipts
    for wallet, receipt in receipts.items():
        trainer = next(t for t in story.trainers if str(t.wallet.pubkey()) == wallet)
        state = await scenario.submission_state(trainer)
        assert receipt["update_hash"] == story.submitted[wallet].update_hash.hex()
        assert receipt["update_cid"] == story.revealed[wallet].update_cid
        assert receipt["signature"] == story.judged[wallet].signature
        assert receipt["verdict"] == state.verdict.value == story.verdicts[wallet].value
        assert receipt["reason"] == state.reason.code
        assert receipt["reason_code"] == int(state.reason)
        assert receipt["reason_class"] == state.reason.kind.value
        assert (receipt["score"], receipt["reward"]) == (state.score, state.reward)
        assert receipt["slashed"] == state.slashed
    classes = sorted((r["verdict"], r["reason_class"]) for r in receipts.values())
    assert classes == [("Accepted", "ok"), ("Excluded", "statistical"), ("Slashed", "objective")]
    slashed = next(r for r in receipts.values() if r["verdict"] == "Slashed")
    assert slashed["slashed"] > 0
    await client.close()


async def test_the_operators_evaluation_reaches_the_feed_and_the_round(served: Served) -> None:
    scenario = served.scenario
    story = await judged_round(scenario)
    client, _ = await feed(served, pool=str(scenario.key))
    evaluated = RoundEvaluated(scenario.key, 1, 0.8125, 0.4375, 64, story.global_hash)
    served.runtime.bus.publish_operator(evaluated)
    frame = (await client.until(lambda f: f["type"] == "evaluation"))[-1]
    assert (frame["round"], frame["accuracy"], frame["loss"], frame["samples"]) == (
        1,
        0.8125,
        0.4375,
        64,
    )
    assert frame["global_model_hash"] == story.global_hash.hex()
    import httpx

    async with httpx.AsyncClient(base_url=served.url) as http:
        round_view = (await http.get(f"/api/pools/{scenario.key}/rounds/1")).json()
    assert round_view["evaluation"]["accuracy"] == 0.8125
    assert round_view["evaluation"]["cursor"] == frame["cursor"]
    await client.close()


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param("not json", id="not-json"),
        pytest.param("[1, 2]", id="not-an-object"),
        pytest.param('{"type": "subscribe"}', id="unknown-type"),
        pytest.param('{"type": "ping", "id": [1]}', id="bad-field"),
        pytest.param('{"type": "ping", "extra": 1}', id="extra-field"),
        pytest.param(json.dumps({"type": "ping", "id": "x" * 65}), id="id-too-long"),
        pytest.param(b"\x00\x01binary", id="binary"),
    ],
)
async def test_a_bad_frame_gets_an_error_frame_and_the_connection_stays_open(
    served: Served, payload: str | bytes
) -> None:
    scenario = served.scenario
    await scenario.create()
    client, _ = await feed(served)
    await client.send(payload)
    error = await client.recv()
    assert (error["type"], error["code"]) == ("error", "bad_frame")
    # still open: a ping is answered and chain events still arrive
    await client.send(json.dumps({"type": "ping", "id": "after"}))
    assert (await client.recv()) | {"time": 0, "head": None} == {
        "type": "pong",
        "id": "after",
        "time": 0,
        "head": None,
    }
    await scenario.fund(7)
    funded = await client.until(lambda f: f.get("name") == "PoolFunded")
    assert funded[-1]["fields"]["amount"] == 7
    await client.close()


async def test_a_ping_with_an_integer_id_gets_its_pong(served: Served) -> None:
    client, _ = await feed(served)
    await client.send(json.dumps({"type": "ping", "id": 7}))
    pong = await client.recv()
    assert (pong["type"], pong["id"]) == ("pong", 7)
    await client.close()


@pytest.mark.parametrize(
    "server_limit",
    [
        pytest.param(None, id="protocol-limit"),  # uvicorn's ws_max_size = max_frame_bytes
        pytest.param(1 << 20, id="app-limit"),  # the server would take more: the app closes
    ],
)
async def test_a_frame_over_the_limit_closes_1009(served: Served, server_limit: int | None) -> None:
    limit = served.app.state.settings.max_frame_bytes
    if server_limit is not None:
        from frontend_api.server import running_server

        settings = served.app.state.settings
        async with running_server(served.app, settings, ws_max_size=server_limit) as url:
            other = Served(url, served.app, served.chain, served.scenario)
            await _check_limit(other, limit)
        return
    await _check_limit(served, limit)


async def _check_limit(served: Served, limit: int) -> None:
    client, _ = await feed(served)
    ping = json.dumps({"type": "ping", "id": "edge"})
    exact = ping + " " * (limit - len(ping))  # JSON whitespace up to the limit
    assert len(exact.encode()) == limit
    await client.send(exact)  # at the limit: read and answered
    assert (await client.recv())["type"] == "pong"
    await client.send(exact + " ")  # one byte more
    assert await close_code(client) == 1009


@pytest.mark.parametrize(
    ("query", "code", "close"),
    [
        ({"pool": "11111111111111111111111111111112"}, "unknown_pool", 4404),
        ({"pool": "not-a-key"}, "invalid_pool", 4400),
        ({"cursor": "12:x:3"}, "invalid_cursor", 4400),
        ({"cursor": "1:2"}, "invalid_cursor", 4400),
    ],
)
async def test_bad_parameters_are_refused_by_name(
    served: Served, query: dict[str, str], code: str, close: int
) -> None:
    client = await FeedClient.connect(served.ws, await frame_validator(served.url), **query)
    error = await client.recv()
    assert (error["type"], error["code"]) == ("error", code)
    assert await close_code(client) == close
    assert served.runtime.bus.subscriptions == 0


@pytest.mark.api_settings(heartbeat_seconds=0.2)
async def test_heartbeats_carry_a_cursor_to_resume_from(served: Served) -> None:
    scenario = served.scenario
    await scenario.create()
    other = scenario.key
    await scenario.create()
    client, _ = await feed(served, pool=str(scenario.key))
    await scenario.fund(SOL)
    scenario.pool = other
    await scenario.fund(SOL)  # not this client's pool: skipped, but its position counts
    beat = (await client.until(lambda f: f["type"] == "heartbeat"))[-1]
    assert beat["cursor"] == beat["head"]
    await client.close()
    resumed, _ = await feed(served, pool=str(served.scenario.key), cursor=beat["cursor"])
    nothing_new = await resumed.recv(timeout=2.0)
    assert nothing_new["type"] == "heartbeat"
    await resumed.close()


async def stalled_client(served: Served) -> FeedClient:
    """A feed client that reads nothing yet, with a tiny socket receive buffer, so
    the server's sends soon wait and its bus subscription lags."""
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    host, port = served.url.removeprefix("http://").split(":")
    raw.connect((host, int(port)))
    connection = await websockets.connect(f"{served.ws}/ws/feed", sock=raw, max_queue=1)
    client = FeedClient(connection, await frame_validator(served.url))
    assert (await client.recv())["type"] == "hello"
    return client


async def flood(served: Served, transactions: int) -> None:
    """`transactions` fund_pool transactions (an event and two states each)."""
    for i in range(transactions):
        await served.scenario.fund(1 + i)
        if i % 20 == 0:
            await asyncio.sleep(0)  # let the server run


async def read_all(client: FeedClient, until_amount: int | None = None) -> list[dict]:
    frames: list[dict] = []
    with contextlib.suppress(ConnectionClosed):
        while True:
            frame = await client.recv(timeout=10.0)
            frames.append(frame)
            if until_amount is not None and frame.get("fields", {}).get("amount") == until_amount:
                break
    return frames


@pytest.mark.api_settings(bus_retention=40, bus_queue_size=8, bus_max_gaps=None)
async def test_a_client_that_falls_past_the_history_gets_gaps_and_goes_on(
    served: Served,
) -> None:
    # Given a client that stops reading while 300 transactions land (never dropped here)
    await served.scenario.create()
    client = await stalled_client(served)
    await flood(served, 300)
    # Then the server's memory stayed bounded by the bus policy
    assert served.runtime.bus.retained() <= 40
    # and reading it all shows the frames in order, a gap wherever history was
    # lost (right after the last frame sent before it), and, after the last gap,
    # everything up to the last transaction
    frames = await read_all(client, until_amount=300)
    items = stream_items(frames)
    cursors = [cursor_key(f["cursor"]) for f in items]
    assert cursors == sorted(set(cursors))
    gaps = [i for i, f in enumerate(items) if f["type"] == "gap"]
    assert gaps and served.runtime.bus.dropped == 0
    for i in gaps:
        assert items[i]["after"] == (items[i - 1]["cursor"] if i else frames[0]["cursor"])
    tail = [f["fields"]["amount"] for f in items[gaps[-1] :] if f.get("name") == "PoolFunded"]
    assert tail == list(range(tail[0], 301))
    await client.close()


@pytest.mark.api_settings(bus_retention=40, bus_queue_size=8, bus_max_gaps=1)
async def test_a_client_past_its_gap_limit_is_dropped_and_resumes_from_its_cursor(
    served: Served,
) -> None:
    # Given a client that falls past the history twice (its limit is one gap)
    await served.scenario.create()
    client = await stalled_client(served)
    await flood(served, 300)
    first = []
    while not first or first[-1]["type"] != "gap":
        first.append(await client.recv())
    await flood(served, 300)
    # Then it gets the `dropped` error with its last cursor, and close code 1013
    frames = first + await read_all(client)
    assert (frames[-1]["type"], frames[-1]["code"]) == ("error", "dropped")
    assert frames[-1]["cursor"] == stream_items(frames)[-1]["cursor"]
    assert client.socket.close_code == 1013
    assert served.runtime.bus.dropped == 1
    # and reconnecting with that cursor it is told of the gap, then goes on live
    resumed, _ = await feed(served, cursor=frames[-1]["cursor"])
    await served.scenario.fund(999_999)
    after = await resumed.until(lambda f: f.get("fields", {}).get("amount") == 999_999)
    assert after[0]["type"] == "gap"
    assert after[0]["after"] == frames[-1]["cursor"]
    await resumed.close()
