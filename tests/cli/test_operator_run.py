"""`fedstake operator run` refuses, before it starts, a pool it could never judge."""

from __future__ import annotations

import asyncio
from pathlib import Path

from client_kit.enums import RewardPolicy
from client_kit.keys import write_keypair
from tests.cli.runner import Cli
from tests.pools import SOL, PoolScenario, tiny_task


def _pool(tmp_path: Path, policy: RewardPolicy) -> tuple[Cli, str, Path]:
    """A funded Open pool of the tiny task (FedAvg) with `policy`, on the CLI's chain."""
    cli = Cli(tmp_path / "home")
    chain = cli.chain()
    scenario = PoolScenario(chain, cli.home / "store", task=tiny_task())

    async def make() -> None:
        await scenario.setup()
        await scenario.create(max_participants=3, reward_policy=policy)
        await scenario.fund(SOL)

    asyncio.run(make())
    cli.save(chain)
    return cli, str(scenario.key), write_keypair(tmp_path / "op.json", scenario.aggregator)


def test_a_contribution_pool_without_reference_data_is_refused_in_one_line(tmp_path) -> None:
    # Given a pool whose contribution policy needs the operator's reference update
    cli, pool, operator = _pool(tmp_path, RewardPolicy.CONTRIBUTION)
    # When the operator starts without --reference-data, Then it refuses at once, by name
    cli.fails(operator, "operator", "run", "--pool", pool, match="pass --reference-data FILE")
    # and the pool is untouched: still Open, nothing judged
    assert cli.ok(operator, "pool", "show", pool)["status"] == "Open"
