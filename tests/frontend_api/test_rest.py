"""The REST routes over a real server: each view equals the chain's state after
a judged round, filters and pages hold, and bad requests get named errors."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from solders.keypair import Keypair

from client_kit.enums import ParticipantStatus, Verdict
from tests.frontend_api.conftest import Served
from tests.frontend_api.story import JudgedRound, judged_round
from tests.pools import SOL

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def http(served: Served) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=served.url) as client:
        yield client


@pytest.fixture
async def story(served: Served) -> JudgedRound:
    return await judged_round(served.scenario)


async def test_a_pool_view_equals_the_chain(served: Served, http: httpx.AsyncClient, story) -> None:  # type: ignore[no-untyped-def]
    state = await served.scenario.pool_state()
    view = (await http.get(f"/api/pools/{served.scenario.key}")).json()
    assert view["address"] == str(served.scenario.key)
    assert view["status"] == state.status.value == "Training"
    assert (view["round"], view["max_rounds"]) == (2, 2)
    assert view["global_model_hash"] == story.global_hash.hex() == state.global_model_hash.hex()
    assert view["total_funded"] == 2 * SOL == state.total_funded
    assert view["total_staked"] == state.total_staked
    assert view["reward_balance"] == state.reward_balance
    assert view["slash_bps"] == state.slash_bps
    assert view["round_deadline"] == state.round_deadline


async def test_rounds_form_the_provenance_chain(
    served: Served, http: httpx.AsyncClient, story
) -> None:  # type: ignore[no-untyped-def]
    page = (await http.get(f"/api/pools/{served.scenario.key}/rounds")).json()
    first, second = page["items"]
    assert (first["round"], first["finalized"], second["finalized"]) == (1, True, False)
    assert first["global_model_hash"] == story.global_hash.hex()
    assert second["base_model_hash"] == first["global_model_hash"]
    counts = ("accepted_count", "excluded_count", "slashed_count", "revealed_count")
    assert [first[c] for c in counts] == [1, 1, 1, 3]
    assert first["reward_accrued"] == (await served.scenario.round_state(1)).reward_accrued
    assert first["evaluation"] is None  # no operator evaluation published
    one = (await http.get(f"/api/pools/{served.scenario.key}/rounds/1")).json()
    assert one == first


async def test_participants_and_their_filters(
    served: Served, http: httpx.AsyncClient, story
) -> None:  # type: ignore[no-untyped-def]
    base = f"/api/pools/{served.scenario.key}/participants"
    page = (await http.get(base)).json()
    assert page["total"] == 3
    by_wallet = {p["wallet"]: p for p in page["items"]}
    for trainer in story.trainers:
        state = await served.scenario.participant_state(trainer)
        view = by_wallet[str(trainer.wallet.pubkey())]
        assert (view["stake"], view["status"]) == (state.stake, state.status.value)
        assert (view["reward_accrued"], view["reward_unpaid"]) == (
            state.reward_accrued,
            state.reward_unpaid,
        )
        assert view == (await http.get(f"{base}/{trainer.wallet.pubkey()}")).json()
    slashed = (await http.get(base, params={"status": "Slashed"})).json()["items"]
    expected = [
        str(t.wallet.pubkey())
        for t in story.trainers
        if (await served.scenario.participant_state(t)).status is ParticipantStatus.SLASHED
    ]
    assert [p["wallet"] for p in slashed] == expected


async def test_submissions_carry_verdicts_and_judge_signatures(
    served: Served, http: httpx.AsyncClient, story
) -> None:  # type: ignore[no-untyped-def]
    base = f"/api/pools/{served.scenario.key}/submissions"
    page = (await http.get(base, params={"round": 1})).json()
    assert page["total"] == 3
    for view in page["items"]:
        wallet = view["wallet"]
        assert view["judge_signature"] == story.judged[wallet].signature
        assert view["update_hash"] == story.submitted[wallet].update_hash.hex()
        assert view["update_commitment"] == story.submitted[wallet].update_commitment.hex()
        assert (view["revealed"], view["update_cid"]) == (True, story.revealed[wallet].update_cid)
        assert view["verdict"] == story.verdicts[wallet].value
    slashed = (await http.get(base, params={"verdict": Verdict.SLASHED.value})).json()
    assert [v["reason_class"] for v in slashed["items"]] == ["objective"]
    excluded = (await http.get(base, params={"verdict": Verdict.EXCLUDED.value})).json()
    assert [v["reason_class"] for v in excluded["items"]] == ["statistical"]
    wallet = str(story.trainers[0].wallet.pubkey())
    mine = (await http.get(base, params={"wallet": wallet})).json()["items"]
    assert [v["wallet"] for v in mine] == [wallet]
    assert (await http.get(f"{base}/1/{wallet}")).json() == mine[0]


async def test_pages_are_stable_slices_and_the_limit_is_capped(
    served: Served, http: httpx.AsyncClient, story
) -> None:  # type: ignore[no-untyped-def]
    base = f"/api/pools/{served.scenario.key}/participants"
    everyone = (await http.get(base)).json()["items"]
    pages = [(await http.get(base, params={"offset": i, "limit": 1})).json() for i in range(4)]
    assert [p["items"] for p in pages] == [[everyone[0]], [everyone[1]], [everyone[2]], []]
    assert all((p["total"], p["limit"]) == (3, 1) for p in pages)
    capped = (await http.get(base, params={"limit": 10_000})).json()
    assert capped["limit"] == served.app.state.settings.page_limit_max


async def test_pools_filter_by_organization_and_status(
    served: Served, http: httpx.AsyncClient
) -> None:
    scenario = served.scenario
    await scenario.create()
    first = scenario.key
    scenario.organization = Keypair()
    await scenario.setup()
    await scenario.create()
    await scenario.cancel()
    listed = (await http.get("/api/pools")).json()
    assert {p["address"] for p in listed["items"]} == {str(first), str(scenario.key)}
    org = (
        await http.get("/api/pools", params={"organization": str(scenario.organization.pubkey())})
    ).json()
    assert [p["address"] for p in org["items"]] == [str(scenario.key)]
    cancelled = (await http.get("/api/pools", params={"status": "Cancelled"})).json()
    assert [p["address"] for p in cancelled["items"]] == [str(scenario.key)]


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/api/pools/{missing}", "pool_not_found"),
        ("/api/pools/{pool}/rounds/9", "round_not_found"),
        ("/api/pools/{pool}/participants/{missing}", "participant_not_found"),
        ("/api/pools/{pool}/submissions/1/{missing}", "submission_not_found"),
        ("/api/pools/{missing}/rounds", "pool_not_found"),
    ],
)
async def test_missing_things_are_404_by_name(
    served: Served, http: httpx.AsyncClient, path: str, error: str
) -> None:
    await served.scenario.create()
    url = path.format(pool=served.scenario.key, missing=Keypair().pubkey())
    response = await http.get(url)
    assert response.status_code == 404
    assert response.json()["error"] == error


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/pools/not-base58!", {}),
        ("/api/pools/1111111111111111111111111111111111111111111", {}),  # 43 chars, not 32 bytes
        ("/api/pools/{pool}/rounds/0", {}),
        ("/api/pools/{pool}/rounds/4294967296", {}),
        ("/api/pools", {"limit": 0}),
        ("/api/pools", {"offset": -1}),
        ("/api/pools", {"status": "Sleeping"}),
        ("/api/pools", {"organization": "nope"}),
        ("/api/pools", {"stauts": "Open"}),  # misspelt filter: refused, not ignored
        ("/api/pools/{pool}/submissions", {"verdict": "Maybe"}),
    ],
)
async def test_bad_parameters_are_422(
    served: Served, http: httpx.AsyncClient, path: str, params: dict
) -> None:
    await served.scenario.create()
    response = await http.get(path.format(pool=served.scenario.key), params=params)
    assert response.status_code == 422
    assert response.json()["detail"]


@pytest.mark.api_settings(cors_origins=["http://dashboard.test"])
async def test_cors_allows_the_configured_origins_only(http: httpx.AsyncClient) -> None:
    preflight = {"Access-Control-Request-Method": "GET"}
    allowed = await http.options(
        "/api/pools", headers={"Origin": "http://dashboard.test", **preflight}
    )
    assert allowed.headers["access-control-allow-origin"] == "http://dashboard.test"
    other = await http.get("/api/pools", headers={"Origin": "http://elsewhere.test"})
    assert "access-control-allow-origin" not in other.headers


async def test_health_and_the_dashboard_page(http: httpx.AsyncClient, served: Served) -> None:
    health = (await http.get("/api/health")).json()
    assert (health["status"], health["backend"], health["watcher_ready"]) == (
        "ok",
        "embedded",
        True,
    )
    page = await http.get("/")
    assert page.status_code == 200 and "/static/dashboard.js" in page.text
    chart = await http.get("/static/vendor/uplot.iife.min.js")
    assert chart.status_code == 200 and "uPlot" in chart.text
