"""A served API over an embedded chain the test drives in the same event loop.

`served` starts the real app under uvicorn on a free loopback port (the same
configuration `fedstake api serve` uses), following an `EmbeddedGateway`
that the test's `PoolScenario` sends transactions to; the watcher sees them
through the gateway's listeners, the bus fans them out to the feed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from client_kit.gateway.embedded import EmbeddedGateway
from frontend_api import ApiSettings, create_app
from frontend_api.runtime import ApiRuntime
from frontend_api.server import running_server
from tests.pools import PoolScenario


@dataclass
class Served:
    """A running server (`url`, `ws`), its app and runtime, and the scenario driving the chain."""

    url: str
    app: FastAPI
    chain: EmbeddedGateway
    scenario: PoolScenario

    @property
    def ws(self) -> str:
        return "ws" + self.url.removeprefix("http")

    @property
    def runtime(self) -> ApiRuntime:
        return self.app.state.runtime  # type: ignore[no-any-return]


def settings_for(chain: EmbeddedGateway, **overrides: Any) -> ApiSettings:
    return ApiSettings(**({"chain": chain, "port": 0, "heartbeat_seconds": 30.0} | overrides))


@pytest.fixture
async def served(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Served]:
    """`@pytest.mark.api_settings(heartbeat_seconds=0.2, ...)` overrides settings."""
    marker = request.node.get_closest_marker("api_settings")
    overrides = dict(marker.kwargs) if marker else {}
    chain = EmbeddedGateway()
    scenario = PoolScenario(chain, tmp_path / "store")
    await scenario.setup()
    settings = settings_for(chain, **overrides)
    app = create_app(settings)
    async with running_server(app, settings, log_level="warning") as url:
        yield Served(url, app, chain, scenario)
