"""Backends for the gateway tests: `embedded` always, `rpc` on a real Surfpool.

The Surfpool validator is started once per test module by
scripts/validator/launcher.py; rpc cases skip (with the launcher's reason)
only when node is missing.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest

from client_kit.gateway.base import ChainGateway
from client_kit.gateway.embedded import EmbeddedGateway
from client_kit.idl import REPO_ROOT, load_idl
from scripts.validator import launcher

SO_PATH = REPO_ROOT / "target" / "deploy" / "fedstake.so"
PROGRAM_ID = load_idl().address
STARTUPS: list[float] = []


@dataclass
class Surfnet:
    rpc_url: str
    ws_url: str
    stop: launcher.Stopper


@pytest.fixture(scope="module")
def surfnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Surfnet]:
    reason = launcher.unavailable_reason()
    if reason:
        pytest.skip(f"local validator unavailable: {reason}")
    if not SO_PATH.is_file():
        pytest.fail(f"{SO_PATH} missing: run `make program`")
    t0 = time.monotonic()
    rpc_url, ws_url, stop = launcher.start_validator(
        SO_PATH, str(PROGRAM_ID), workdir=tmp_path_factory.mktemp("surfpool")
    )
    STARTUPS.append(time.monotonic() - t0)
    try:
        yield Surfnet(rpc_url, ws_url, stop)
    finally:
        stop()


async def advance_to(chain: ChainGateway, unix_ts: int) -> None:
    """Moves the chain clock forward to `unix_ts` on either backend."""
    if isinstance(chain, EmbeddedGateway):
        chain.set_time(unix_ts)
    else:
        await chain.time_travel(unix_ts)  # type: ignore[attr-defined]


@pytest.fixture(params=["embedded", "rpc"])
async def chain(request: pytest.FixtureRequest) -> AsyncIterator[ChainGateway]:
    if request.param == "embedded":
        gateway: ChainGateway = EmbeddedGateway()
    else:
        from client_kit.gateway.rpc import RpcGateway

        net: Surfnet = request.getfixturevalue("surfnet")
        gateway = RpcGateway(net.rpc_url, net.ws_url, program_id=PROGRAM_ID)
        await gateway.check_program()
    try:
        yield gateway
    finally:
        await gateway.close()


@pytest.fixture
async def rpc_chain(surfnet: Surfnet) -> AsyncIterator[ChainGateway]:
    from client_kit.gateway.rpc import RpcGateway

    gateway = RpcGateway(surfnet.rpc_url, surfnet.ws_url, program_id=PROGRAM_ID)
    try:
        yield gateway
    finally:
        await gateway.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    report = yield
    if report.failed:
        net = getattr(item, "funcargs", {}).get("surfnet")
        if net is not None:
            report.sections.append((f"surfpool log ({net.stop.log_path})", net.stop.log_tail(60)))
    return report
