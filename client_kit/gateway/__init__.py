"""Chain gateways: one async interface, an embedded LiteSVM backend and an RPC one."""

from client_kit.gateway.base import AccountChange, AccountInfo, ChainGateway, TxResult

__all__ = ["AccountChange", "AccountInfo", "ChainGateway", "TxResult"]
