"""One entry point from a `--url` value to a chain gateway.

`embedded` → the in-process LiteSVM; `localnet` (http://127.0.0.1:8899, websocket
8900), `devnet`, `testnet`, `mainnet` (and the Solana CLI's short spellings) or
any http(s) URL → `RpcGateway`. Aliases and the websocket rule come from
`client_kit.config` so the CLI and the gateways agree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from solana.rpc.commitment import Commitment, Confirmed
from solders.pubkey import Pubkey

from client_kit.config import EMBEDDED, resolve_cluster, websocket_url
from client_kit.gateway.base import ChainGateway


def open_gateway(
    url: str,
    *,
    ws_url: str | None = None,
    program_id: Pubkey | None = None,
    commitment: Commitment = Confirmed,
    program_so: Path | None = None,
    **options: Any,
) -> ChainGateway:
    """A gateway for `url`; raises ValueError (`UnknownCluster`) for anything else.

    Nothing is contacted yet: use `connect_gateway` to also check that the
    cluster answers and the program is deployed.
    """
    cluster, rpc_url = resolve_cluster(url)
    if cluster == EMBEDDED or rpc_url is None:
        from client_kit.gateway.embedded import EmbeddedGateway

        return EmbeddedGateway(program_so=program_so, program_id=program_id, **options)
    from client_kit.gateway.rpc import RpcGateway

    return RpcGateway(
        rpc_url,
        ws_url or websocket_url(rpc_url),
        program_id=program_id,
        commitment=commitment,
        **options,
    )


async def connect_gateway(url: str, **kwargs: Any) -> ChainGateway:
    """`open_gateway`, then (for RPC) fail fast with `ClusterUnreachable` or
    `ProgramNotDeployed` instead of on the first transaction."""
    gateway = open_gateway(url, **kwargs)
    check = getattr(gateway, "check_program", None)
    if check is not None:
        try:
            await check()
        except BaseException:
            await gateway.close()
            raise
    return gateway
