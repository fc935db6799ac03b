"""`open_gateway`: names and URLs to backends (nothing is contacted)."""

from __future__ import annotations

import pytest

from client_kit.gateway import open_gateway
from client_kit.gateway.embedded import EmbeddedGateway
from client_kit.gateway.rpc import RpcGateway


async def test_embedded() -> None:
    assert isinstance(open_gateway("embedded"), EmbeddedGateway)


@pytest.mark.parametrize(
    ("url", "rpc", "ws"),
    [
        ("localnet", "http://127.0.0.1:8899", "ws://127.0.0.1:8900"),
        ("devnet", "https://api.devnet.solana.com", "wss://api.devnet.solana.com"),
        ("http://10.0.0.5:9000", "http://10.0.0.5:9000", "ws://10.0.0.5:9001"),
    ],
)
async def test_rpc_urls(url: str, rpc: str, ws: str) -> None:
    gateway = open_gateway(url)
    try:
        assert isinstance(gateway, RpcGateway)
        assert (gateway.url, gateway.ws_url) == (rpc, ws)
    finally:
        await gateway.close()


async def test_explicit_ws_url_wins() -> None:
    gateway = open_gateway("localnet", ws_url="ws://127.0.0.1:7000")
    try:
        assert gateway.ws_url == "ws://127.0.0.1:7000"  # type: ignore[attr-defined]
    finally:
        await gateway.close()


@pytest.mark.parametrize("url", ["bogus", "ftp://example.com", ""])
def test_anything_else_is_a_value_error(url: str) -> None:
    with pytest.raises(ValueError, match=r"unknown cluster|embedded"):
        open_gateway(url)
