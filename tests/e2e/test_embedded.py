"""The end-to-end scenario (tests/e2e/scenario.py) on the embedded chain, in
one process: the operator service (`offchain.service.OperatorService`, what
`fedstake operator run` runs) and the five participant agents
(`offchain.agent.ParticipantAgent`, what `fedstake participate` runs) as
asyncio tasks on one `EmbeddedGateway`, sharing a local store folder. The
organization acts through `client_kit.actions` (tests.pools.PoolScenario),
with the client's default terms (the `Contribution` reward policy).

The same scenario as separate OS processes on Surfpool is
tests/e2e/test_processes.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from solders.keypair import Keypair

from client_kit.enums import RewardPolicy
from client_kit.gateway.embedded import EmbeddedGateway
from client_kit.keys import load_payout_secret
from client_kit.training.data import save_npz
from offchain.agent import AgentConfig, ParticipantAgent
from offchain.payout import PayoutRelayer, Reveal, UnknownParticipant
from offchain.reference import OperatorData
from offchain.service import OperatorService, ServiceSettings
from offchain.verify import verify_round
from tests.agents import RecordingReporter, tiny_data, tiny_data_file, wait_for
from tests.e2e.scenario import (
    CAST,
    REFERENCE_SEED,
    REWARD_PER_ROUND,
    ROUNDS,
    SLASH_BPS,
    STAKE,
    Played,
    check_outcome,
    scenario_task,
)
from tests.pools import SOL, PoolScenario

pytestmark = pytest.mark.timeout(300)


async def test_the_scenario_runs_to_the_end_in_one_process(tmp_path: Path) -> None:
    # Given a funded Open pool with the client's default terms, and its operator
    world = PoolScenario(EmbeddedGateway(), tmp_path / "store", task=scenario_task())
    await world.setup()
    created = await world.create(
        max_rounds=ROUNDS,
        max_participants=len(CAST),
        reward_per_round=REWARD_PER_ROUND,
        slash_bps=SLASH_BPS,
    )
    assert (await world.pool_state()).reward_policy is RewardPolicy.CONTRIBUTION
    await world.fund(ROUNDS * REWARD_PER_ROUND)
    reference = save_npz(tmp_path / "reference.npz", tiny_data(REFERENCE_SEED))
    service = OperatorService(
        world.chain,
        world.store,
        world.aggregator,
        ServiceSettings(
            data_dir=tmp_path / "operator",
            pools=[created.pool],
            operator_data=OperatorData(reference=reference),
            poll=0.05,
        ),
    )
    # and five agents with their own wallets, payout wallets, data and folders
    agents: list[ParticipantAgent] = []
    played: list[Played] = []
    for member in CAST:
        wallet, payout = Keypair(), Keypair().pubkey()
        await world.chain.airdrop(wallet.pubkey(), 2 * SOL)
        reporter = RecordingReporter(member.name)
        config = AgentConfig(
            pool=created.pool,
            data=tiny_data_file(tmp_path, member.seed),
            data_dir=tmp_path / member.name / "agent",
            secrets_dir=tmp_path / member.name / "secrets",
            stake=STAKE,
            payout_wallet=payout,
            behaviour=member.behaviour,
            claim=member.claim_by == "agent",
            seed=member.seed,
            poll_interval=0.02,
        )
        agents.append(ParticipantAgent(world.chain, world.store, wallet, config, reporter))
        played.append(Played(member, wallet.pubkey(), payout, reporter.of))

    # When the operator and the agents run as tasks, and the organization starts
    # training once everyone joined
    operator = asyncio.create_task(service.run(), name="operator")
    runs = [asyncio.create_task(agent.run(), name=agent.config.data_dir.parent.name)
            for agent in agents]  # fmt: skip
    try:

        async def everyone_joined() -> bool:
            return (await world.pool_state()).participant_count == len(CAST)

        await wait_for(everyone_joined, timeout=60)
        await world.start()
        await asyncio.wait_for(operator, 180)  # it stops by itself once the pool ended
        await asyncio.wait_for(asyncio.gather(*runs), 60)
    finally:
        for task in [operator, *runs]:
            task.cancel()
        await asyncio.gather(operator, *runs, return_exceptions=True)

    # and the operator's relayer sends ben's reveal, and fred's: having earned
    # nothing, fred's agent withdrew and closed its account, so it is refused by name
    relayer = PayoutRelayer(world.chain, world.aggregator)
    for p, member in zip(played, CAST, strict=True):
        if member.claim_by == "relayer" or member.name == "fred":
            secret = load_payout_secret(tmp_path / member.name / "secrets", world.key, p.wallet)
            reveal = Reveal(world.key, p.wallet, secret.payout_wallet, secret.salt)
            if member.name == "fred":
                with pytest.raises(UnknownParticipant):
                    await relayer.relay(reveal)
            else:
                relayed = await relayer.relay(reveal)
                assert relayed.amount > 0 and relayed.payout_wallet == p.payout

    # Then everything the rules say holds, and every round verifies from the
    # chain and the store alone
    await check_outcome(world.chain, world.key, played)
    for number in range(1, ROUNDS + 1):
        result = await verify_round(world.chain, world.store, world.key, number)
        assert result.ok, result.report()
