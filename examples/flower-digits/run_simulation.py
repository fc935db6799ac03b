"""Runs flower-digits on Flower's simulation engine in a fedstake pool, start to end.

    python run_simulation.py --url http://127.0.0.1:8899 --work /tmp/flower-digits

1. opens a pool for the app's model (organization, aggregator and
   participant keys created under `<work>/keys`), funds it, lets `--nodes`
   participants join and starts training (`flower_digits.pool`);
2. runs the ServerApp and the ClientApp with `flwr.simulation.run_simulation`
   (Ray runs each ClientApp in a worker process: the chain must be one every
   process can reach, e.g. Surfpool, not `embedded`); the apps read their
   fedstake settings from `FEDSTAKE_*` variables, which Ray's workers inherit;
3. every participant claims its reward; prints a JSON summary.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ROUNDS = 2  # the ServerApp's default `num-server-rounds`


async def _stake(url: str, store: str, keys, rounds: int):  # type: ignore[no-untyped-def]
    from flower_digits.pool import open_pool

    from client_kit.gateway.factory import connect_gateway
    from client_kit.storage import open_store

    chain = await connect_gateway(url)
    try:
        return await open_pool(chain, open_store(store), keys, rounds=rounds)
    finally:
        await chain.close()


async def _finish(url: str, pool, keys) -> dict:  # type: ignore[no-untyped-def,type-arg]
    from flower_digits.pool import claim_all

    from client_kit.actions.reads import load_pool
    from client_kit.gateway.factory import connect_gateway

    chain = await connect_gateway(url)
    try:
        state = await load_pool(chain, pool)
        paid = await claim_all(chain, pool, keys)
        return {
            "pool": str(pool),
            "status": state.status.value,
            "round": state.round,
            "global_model_hash": bytes(state.global_model_hash).hex(),
            "paid": paid,
        }
    finally:
        await chain.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True, help="chain RPC URL (Surfpool, localnet)")
    parser.add_argument("--work", type=Path, required=True, help="folder for keys and the store")
    parser.add_argument("--nodes", type=int, default=3)
    args = parser.parse_args()

    sys.path[:0] = [str(HERE), str(ROOT)]
    from flower_digits.client_app import app as client_app
    from flower_digits.pool import Keys
    from flower_digits.server_app import app as server_app
    from flwr.simulation import run_simulation

    keys = Keys(args.work / "keys", args.nodes)
    store = f"local:{args.work / 'store'}"
    pool = asyncio.run(_stake(args.url, store, keys, ROUNDS))
    # one keypair per node, from the keys folder by partition-id: a FEDSTAKE_KEYPAIR
    # left in the environment would make every node the same participant
    os.environ.pop("FEDSTAKE_KEYPAIR", None)
    os.environ.update(
        FEDSTAKE_URL=args.url,
        FEDSTAKE_STORE=store,
        FEDSTAKE_POOL=str(pool),
        FEDSTAKE_KEYS_DIR=str(keys.folder),
        FEDSTAKE_AGGREGATOR_KEYPAIR=str(keys.aggregator_path),
        PYTHONPATH=os.pathsep.join([str(HERE), str(ROOT), os.environ.get("PYTHONPATH", "")]),
    )
    run_simulation(
        server_app=server_app,
        client_app=client_app,
        num_supernodes=args.nodes,
        backend_config={"client_resources": {"num_cpus": 1, "num_gpus": 0.0}},
    )
    print(json.dumps(asyncio.run(_finish(args.url, pool, keys))), flush=True)


if __name__ == "__main__":
    main()
