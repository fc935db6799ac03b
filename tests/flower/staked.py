"""A pool for the example's model on the embedded chain, and the example's
ClientApp code behind `fedstake_mod`, for the adapter's in-process tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from flower_digits import client_app as example_client
from flower_digits.pool import Keys, open_pool
from flower_digits.task import initial_model
from flwr.app import ArrayRecord, Context
from flwr.clientapp import ClientApp
from flwr.serverapp.strategy import FedAvg

from client_kit.flower.mod import ParticipantLink, make_fedstake_mod
from client_kit.gateway.embedded import EmbeddedGateway
from client_kit.storage.local import LocalStore
from offchain.flower import OperatorLink, StakedStrategy
from offchain.flower.strategy import Waits
from tests.flower.local_grid import LocalGrid

NODES = 3


class Setup:
    """A pool for the example's model on the embedded chain, 3 participants joined."""

    def __init__(self, tmp_path: Path, rounds: int, rule: str = "median") -> None:
        self.chain = EmbeddedGateway()
        self.store = LocalStore(tmp_path / "store")
        self.keys = Keys(tmp_path / "keys", NODES)
        opened = open_pool(self.chain, self.store, self.keys, rounds=rounds, rule=rule)
        self.pool = asyncio.run(opened)

    def participant_connect(self, index: int):  # type: ignore[no-untyped-def]
        @asynccontextmanager
        async def connect(_: Context) -> AsyncIterator[ParticipantLink]:
            yield ParticipantLink(self.chain, self.store, self.keys.participant(index))

        return connect

    @asynccontextmanager
    async def operator_connect(self) -> AsyncIterator[OperatorLink]:
        yield OperatorLink(self.chain, self.store, self.keys.aggregator)

    def client_app(self, index: int, *outer: object) -> ClientApp:
        """The example's train/evaluate functions behind the mod (and `outer` mods first)."""
        app = ClientApp(mods=[*outer, make_fedstake_mod(self.participant_connect(index))])  # type: ignore[list-item]
        app.train()(example_client.train_fn)
        app.evaluate()(example_client.evaluate_fn)
        return app

    def strategy(self) -> StakedStrategy:
        inner = FedAvg(min_train_nodes=NODES, min_evaluate_nodes=NODES, min_available_nodes=NODES)
        return StakedStrategy(
            inner, pool=self.pool, connect=self.operator_connect, waits=Waits(phase=5, poll=0.01)
        )

    def run(self, apps: list[ClientApp], rounds: int, grid: LocalGrid | None = None):  # type: ignore[no-untyped-def]
        grid = grid or LocalGrid(apps)
        strategy = self.strategy()
        result = strategy.start(
            grid=grid, initial_arrays=ArrayRecord(initial_model().state_dict()), num_rounds=rounds
        )
        return strategy, grid, result
