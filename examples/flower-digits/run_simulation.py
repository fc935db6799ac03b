"""Runs flower-digits on Flower's simulation engine in a fedstake pool, start to end.

    python run_simulation.py --url http://127.0.0.1:8899 --work /tmp/flower-digits

1. opens a pool for the app's model (organization, aggregator and
   participant keys created under `<work>/keys`), funds it, lets `--nodes`
   participants join and starts training (`flower_digits.pool`);
2. runs the ServerApp and the ClientApp with `flwr.simulation.run_simulation`
   (Ray runs each ClientApp in a worker process: the chain must be one every
   process can reach, e.g. Surfpool, not `embedded`); this Python API gives
   the apps an empty run config, so they read their fedstake settings from
   `FEDSTAKE_*` variables (Ray's workers inherit them) and the number of
   rounds from `FLOWER_DIGITS_ROUNDS`;
3. every participant claims its reward; prints a JSON summary.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def main() -> None:
    sys.path[:0] = [str(HERE), str(ROOT)]
    from flower_digits.client_app import app as client_app
    from flower_digits.pool import Keys
    from flower_digits.runs import finish, parser, stake
    from flower_digits.server_app import app as server_app
    from flwr.simulation import run_simulation

    args = parser(__doc__).parse_args()

    keys = Keys(args.work / "keys", args.nodes)
    store = f"local:{args.work / 'store'}"
    pool = stake(args.url, store, keys, args.rounds)
    # one keypair per node, from the keys folder by partition-id: a FEDSTAKE_KEYPAIR
    # left in the environment would make every node the same participant
    os.environ.pop("FEDSTAKE_KEYPAIR", None)
    os.environ.update(
        FEDSTAKE_URL=args.url,
        FEDSTAKE_STORE=store,
        FEDSTAKE_POOL=str(pool),
        FEDSTAKE_KEYS_DIR=str(keys.folder),
        FEDSTAKE_AGGREGATOR_KEYPAIR=str(keys.aggregator_path),
        FLOWER_DIGITS_ROUNDS=str(args.rounds),
        PYTHONPATH=os.pathsep.join([str(HERE), str(ROOT), os.environ.get("PYTHONPATH", "")]),
    )
    run_simulation(
        server_app=server_app,
        client_app=client_app,
        num_supernodes=args.nodes,
        backend_config={"client_resources": {"num_cpus": 1, "num_gpus": 0.0}},
    )
    print(json.dumps(finish(args.url, pool, keys)), flush=True)


if __name__ == "__main__":
    main()
