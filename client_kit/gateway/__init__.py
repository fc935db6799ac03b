"""Chain gateways: one async interface, an embedded LiteSVM backend and an RPC one."""

from client_kit.gateway.base import AccountChange, AccountInfo, ChainGateway, TxResult
from client_kit.gateway.factory import connect_gateway, open_gateway

__all__ = [
    "AccountChange",
    "AccountInfo",
    "ChainGateway",
    "TxResult",
    "connect_gateway",
    "open_gateway",
]
