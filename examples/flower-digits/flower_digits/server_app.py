"""The ServerApp: FedAvg as any Flower app uses it. The one fedstake line
wraps it in `StakedStrategy`, which runs each round as a round of the pool
named by the run config (`fedstake-pool`, `fedstake-url`, `fedstake-store`,
`fedstake-aggregator-keypair`, or the matching `FEDSTAKE_*` variables)."""

from __future__ import annotations

import os

from flwr.app import ArrayRecord, Context
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg

from flower_digits.task import initial_model
from offchain.flower import StakedStrategy

ROUNDS_VARIABLE = "FLOWER_DIGITS_ROUNDS"
app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    """Runs `num-server-rounds` rounds over `min-nodes` nodes."""
    nodes = int(context.run_config.get("min-nodes", 3))
    # the Python simulation API passes no run config: run_simulation.py sets the variable
    rounds = int(context.run_config.get("num-server-rounds", os.environ.get(ROUNDS_VARIABLE, 2)))
    inner = FedAvg(min_train_nodes=nodes, min_evaluate_nodes=nodes, min_available_nodes=nodes)
    strategy = StakedStrategy.from_context(inner, context)
    result = strategy.start(
        grid=grid,
        initial_arrays=ArrayRecord(initial_model().state_dict()),
        num_rounds=rounds,
    )
    print(f"fedstake: finished, final evaluation {result.evaluate_metrics_clientapp}")
