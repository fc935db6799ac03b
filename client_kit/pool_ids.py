"""Finding a pool id an organization can still use.

A pool id is retired once its pool trained and was closed: its round-1
account stays on chain as provenance, and `create_pool` refuses the id with
`PoolIdRetired`. An id is free when neither the pool nor its round 1 exists.
"""

from __future__ import annotations

from solders.pubkey import Pubkey

from client_kit.gateway.base import ChainGateway
from client_kit.instructions import FedstakeInstructions


async def next_free_pool_id(chain: ChainGateway, organization: Pubkey, start: int = 1) -> int:
    """The smallest id ≥ `start` that `create_pool` accepts for `organization`.

    One `program_accounts` read (every program-owned account), then PDAs are
    derived locally; ids in use are bounded by the accounts read, so the
    search ends within that many steps. Raises `ChainError` from the gateway.
    """
    ix = FedstakeInstructions(chain.program_id)
    taken = {key for key, _ in await chain.program_accounts()}
    pool_id = start
    while True:
        pool = ix.pool(organization, pool_id)
        if pool not in taken and ix.round(pool, 1) not in taken:
            return pool_id
        pool_id += 1
