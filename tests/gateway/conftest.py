"""Backends for the gateway tests: `embedded` always, `rpc` on a real Surfpool
(the `surfnet` fixture of tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from client_kit.gateway.base import ChainGateway
from client_kit.gateway.embedded import EmbeddedGateway
from tests.conftest import PROGRAM_ID, Surfnet

__all__ = ["PROGRAM_ID", "Surfnet", "advance_to"]


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
