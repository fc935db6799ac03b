"""The operator service follows its organization's pools and says once, by
name, which one it can't judge (no reference data) instead of retrying it."""

from __future__ import annotations

import asyncio
import logging

from client_kit.enums import RewardPolicy
from client_kit.gateway.embedded import EmbeddedGateway
from offchain.reference import OperatorData
from offchain.service import OperatorService, ServiceSettings
from tests.agents import wait_for
from tests.pools import PoolScenario, tiny_task


async def test_a_discovered_pool_it_cannot_judge_is_named_once_and_left(tmp_path, caplog) -> None:
    # Given an organization with two pools: one judged with the equal policy, one
    # whose contribution policy needs the operator's reference update
    equal = PoolScenario(EmbeddedGateway(), tmp_path / "store", task=tiny_task())
    await equal.setup()
    await equal.create(max_participants=3, reward_policy=RewardPolicy.EQUAL)
    contribution = PoolScenario(
        equal.chain, tmp_path / "store", equal.organization, equal.aggregator, tiny_task()
    )
    await contribution.create(max_participants=3, reward_policy=RewardPolicy.CONTRIBUTION)
    # When the operator service runs for the organization without reference data
    settings = ServiceSettings(
        data_dir=tmp_path / "operator",
        organization=equal.organization.pubkey(),
        operator_data=OperatorData(),
        discover=0.05,
    )
    service = OperatorService(equal.chain, equal.store, equal.aggregator, settings)
    running = asyncio.create_task(service.run())
    try:
        with caplog.at_level(logging.ERROR, logger="offchain.service"):
            await wait_for(lambda: _settled(service, equal.key), timeout=30)
            await asyncio.sleep(0.3)  # several discovery passes
    finally:
        service.stop()
        await asyncio.wait_for(running, 30)
    # Then it follows the pool it can judge, not the other one,
    assert set(service.coordinators) == {equal.key}
    # and says why once, naming the flag
    said = [r.getMessage() for r in caplog.records if str(contribution.key) in r.getMessage()]
    assert len(said) == 1 and "pass --reference-data FILE" in said[0]


async def _settled(service: OperatorService, key) -> bool:  # type: ignore[no-untyped-def]
    return key in service.coordinators
