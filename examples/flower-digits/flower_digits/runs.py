"""What both run scripts share: their command line, and the chain steps around
a Flower run (open the pool before it; read its status and claim after it),
each on a gateway opened for it at `--url`."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from solders.pubkey import Pubkey

from client_kit.actions.reads import load_pool
from client_kit.gateway.base import ChainGateway
from client_kit.gateway.factory import connect_gateway
from client_kit.storage import open_store
from flower_digits.pool import Keys, claim_all, open_pool

T = TypeVar("T")
ROUNDS = 2  # the ServerApp's default `num-server-rounds`


def parser(doc: str) -> argparse.ArgumentParser:
    """`--url`, `--work`, `--nodes`, `--rounds` (the scripts add their own)."""
    args = argparse.ArgumentParser(description=doc.split("\n")[0])
    args.add_argument("--url", required=True, help="chain RPC URL (Surfpool, localnet)")
    args.add_argument("--work", type=Path, required=True, help="folder for keys, store, logs")
    args.add_argument("--nodes", type=int, default=3)
    args.add_argument("--rounds", type=int, default=ROUNDS)
    return args


def on_chain(url: str, step: Callable[[ChainGateway], Awaitable[T]]) -> T:
    """Runs `step` on a gateway to `url`, closed afterwards."""

    async def go() -> T:
        chain = await connect_gateway(url)
        try:
            return await step(chain)
        finally:
            await chain.close()

    return asyncio.run(go())


def stake(url: str, store: str, keys: Keys, rounds: int) -> Pubkey:
    """Opens, funds, joins and starts the pool (`open_pool`); its address."""
    return on_chain(url, lambda chain: open_pool(chain, open_store(store), keys, rounds=rounds))


def pool_status(url: str, pool: Pubkey) -> str:
    """The pool's status name (`Training`, `Finished`, …)."""

    async def status(chain: ChainGateway) -> str:
        return (await load_pool(chain, pool)).status.value

    return on_chain(url, status)


def finish(url: str, pool: Pubkey, keys: Keys) -> dict[str, Any]:
    """Every participant claims; the pool's end state and what each was paid."""

    async def claim(chain: ChainGateway) -> dict[str, Any]:
        state = await load_pool(chain, pool)
        return {
            "pool": str(pool),
            "status": state.status.value,
            "round": state.round,
            "global_model_hash": bytes(state.global_model_hash).hex(),
            "paid": await claim_all(chain, pool, keys),
        }

    return on_chain(url, claim)
