"""`fedstake api serve` as users run it: a subprocess that serves the chain
`fedstake` keeps (the embedded state file), stops on SIGINT, and refuses bad
options in one line."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from client_kit.gateway.embedded import EmbeddedGateway
from tests.cli.runner import Cli
from tests.pools import PoolScenario

pytestmark = pytest.mark.timeout(120)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_serve_shows_the_pools_of_the_cli_chain_and_stops_on_sigint(tmp_path: Path) -> None:
    # Given a pool on the embedded chain that `fedstake` keeps in its home
    chain = EmbeddedGateway()
    scenario = PoolScenario(chain, tmp_path / "home" / "store")
    await scenario.setup()
    await scenario.create()
    chain.save_state(tmp_path / "home" / "embedded-state.json")
    port = free_port()
    env = {**os.environ, "FEDSTAKE_HOME": str(tmp_path / "home"), "FEDSTAKE_URL": "embedded"}
    command = [sys.executable, "-m", "frontend_api.cli", "api", "serve", "--port", str(port)]
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        # When it serves
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"{url}/api/health", timeout=2).json()
                break
            except httpx.HTTPError:
                assert server.poll() is None, server.communicate()[1]
                assert time.monotonic() < deadline, "the server did not answer"
                time.sleep(0.2)
        # Then it shows that chain
        assert (health["status"], health["backend"]) == ("ok", "embedded")
        pools = httpx.get(f"{url}/api/pools").json()
        assert [p["address"] for p in pools["items"]] == [str(scenario.key)]
    finally:
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=30)
    # a graceful stop: the lifespan ran its shutdown (uvicorn then exits as SIGINT does, 130)
    assert "Application shutdown complete" in err
    assert server.returncode in (0, 130, -signal.SIGINT), err
    assert f"http://127.0.0.1:{port}/" in out


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("--port", "70000"), "port"),
        (("--pool", "not-a-key"), "pools"),
        (("--cors-origin",), "requires an argument"),
    ],
)
def test_bad_options_are_one_line_errors(tmp_path: Path, args: tuple[str, ...], match: str) -> None:
    Cli(tmp_path).fails(None, "api", "serve", *args, match=match)


def test_a_followed_pool_that_does_not_exist_stops_the_start(tmp_path: Path) -> None:
    missing = "11111111111111111111111111111112"
    done = Cli(tmp_path).run(None, "api", "serve", "--port", str(free_port()), "--pool", missing)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == f"error: no pool account at {missing}"


def test_a_relayer_keypair_that_cannot_be_read_stops_the_start(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    port = str(free_port())
    done = Cli(tmp_path).run(
        None, "api", "serve", "--port", port, "--relayer-keypair", str(missing)
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and str(missing) in last
