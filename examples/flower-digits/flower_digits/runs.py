"""What both run scripts share: their command line, and the chain steps around
a Flower run (open the pool before it; wait for it to finish and claim after
it), each on one gateway opened for it at `--url`."""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from solders.pubkey import Pubkey

from client_kit.actions.reads import load_pool
from client_kit.enums import PoolStatus
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


def wait_finished(
    url: str, pool: Pubkey, seconds: float, check: Callable[[], None], poll: float = 2.0
) -> None:
    """Reads the pool's status every `poll` s, on one gateway, until it is
    Finished; `check()` runs between reads and raises to give up (e.g. a
    process that died). `TimeoutError` naming the last status after `seconds`."""

    async def watch(chain: ChainGateway) -> None:
        give_up = time.monotonic() + seconds
        while True:
            status = (await load_pool(chain, pool)).status
            if status is PoolStatus.FINISHED:
                return
            if time.monotonic() >= give_up:
                raise TimeoutError(f"pool {pool} is {status.value} after {seconds:.0f} s")
            check()
            await asyncio.sleep(poll)

    on_chain(url, watch)


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
