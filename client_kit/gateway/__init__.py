"""Chain gateways: one async interface, an embedded LiteSVM backend and an RPC one."""

from client_kit.gateway.base import AccountChange, AccountInfo, ChainGateway, TxResult
from client_kit.gateway.factory import connect_gateway, open_gateway
from client_kit.gateway.filters import AccountFilter, DataSize, Memcmp

__all__ = [
    "AccountChange",
    "AccountFilter",
    "AccountInfo",
    "ChainGateway",
    "DataSize",
    "Memcmp",
    "TxResult",
    "connect_gateway",
    "open_gateway",
]
