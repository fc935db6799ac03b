"""What `StakedStrategy` and `fedstake_mod` agree on: the names and the two
phases of a staked Flower round (docs/FLOWER.md).

A Flower training round is one request and one reply per node. fedstake's
round needs two exchanges, because the update's location may only be
revealed once every participant has committed (docs/PROTOCOL.md):

1. `commit` — the strategy's `train` message carries a ConfigRecord under
   `RECORD` naming the pool, its round and the phase. The mod lets the app
   train, then commits to sha256 of the update's canonical bytes on chain
   and adds a ConfigRecord (the wallet, the round) to the reply.
2. `reveal` — a second `train` message holding only that record with phase
   `reveal`. The mod answers it itself (the app's train function never sees
   it): it stores the committed bytes and reveals their CID on chain. It is
   a `train` message because a ClientApp applies its mods only to the
   message types it registered, and every training app registers `train`.

Settings come from the Flower `Context`: node_config first (what a
SuperNode's operator passes with `--node-config`), then run_config (what
`flwr run --run-config` or the app's pyproject sets), then the environment
(`fedstake-url` → `FEDSTAKE_URL`, as the `fedstake` CLI reads it; Flower's
Python simulation API gives apps an empty run_config, and its Ray workers
inherit the environment).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from client_kit.errors import FedstakeError

RECORD = "fedstake"
"""Key of the ConfigRecord the strategy and the mod exchange in a message's content."""
STATE = "fedstake"
"""Key of the ConfigRecord the mod keeps in `Context.state` between the two phases."""

COMMIT = "commit"
REVEAL = "reveal"
PHASES = (COMMIT, REVEAL)

# ConfigRecord fields
POOL = "pool"
ROUND = "round"
PHASE = "phase"
WALLET = "wallet"
CID = "cid"
UPDATE = "update"
UPDATE_HASH = "update-hash"
WEIGHT_KEY = "weight-key"
"""The reply MetricRecord entry holding the sample count (Flower's `num-examples`)."""
DEFAULT_WEIGHT_KEY = "num-examples"

# Context settings (node_config, then run_config)
URL = "fedstake-url"
"""Chain: `embedded` is not shareable between processes; an RPC URL (Surfpool, a cluster)."""
STORE = "fedstake-store"
"""Content store spec (`client_kit.storage.open_store`), e.g. `local:/path/to/store`."""
KEYPAIR = "fedstake-keypair"
"""Path of the participant's keypair file (a node's own setting)."""
KEYS_DIR = "fedstake-keys-dir"
"""Folder of `participant-<partition-id>.json` keypairs, for simulations where
nodes have no config of their own but a `partition-id`."""
AGGREGATOR_KEYPAIR = "fedstake-aggregator-keypair"
POOL_SETTING = "fedstake-pool"


class FlowerProtocolError(FedstakeError):
    """A staked Flower message or setting is missing or malformed (names which)."""


def setting(
    name: str, *configs: Mapping[str, object], default: str | None = None
) -> str:
    """The first value of `name` among `configs` (node_config, run_config), then
    the environment variable `env_name(name)`, as a string; else `default`, or
    `FlowerProtocolError` when there is none."""
    for config in configs:
        value = config.get(name)
        if value is not None and str(value) != "":
            return str(value)
    if os.environ.get(env_name(name)):
        return os.environ[env_name(name)]
    if default is not None:
        return default
    raise FlowerProtocolError(
        f"setting {name!r} is missing (node_config, run_config or {env_name(name)})"
    )


def env_name(name: str) -> str:
    """`fedstake-keys-dir` → `FEDSTAKE_KEYS_DIR`."""
    return name.upper().replace("-", "_")
