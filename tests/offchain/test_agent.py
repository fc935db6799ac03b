"""The participant agent on the embedded chain, in process: agents follow a pool
to its end while an operator judges each round (`tests.agents.RoundJudge`,
on `offchain.aggregator.judge_round`). Crashes are simulated at every step
that sends something; after a restart the chain, not the agent's memory,
decides what happens next."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from solders.keypair import Keypair

from client_kit.actions.participant import GlobalModelMismatch
from client_kit.actions.reads import find_participant, find_submission
from client_kit.canonical import canonical_hash, encode_tensors
from client_kit.enums import PoolStatus
from client_kit.gateway.base import ChainGateway
from client_kit.gateway.embedded import EmbeddedGateway
from client_kit.storage.cid import compute_cid
from client_kit.storage.local import LocalStore
from client_kit.training.behaviours import Behaviour
from offchain.agent import AgentConfig, Ended, ParticipantAgent, UpdateJournal
from tests.agents import (
    Killed,
    KillingGateway,
    RecordingReporter,
    RoundJudge,
    tiny_data_file,
    wait_for,
)
from tests.pools import SOL, PoolScenario, tiny_task

STAKE = SOL // 2


async def _pool(tmp_path: Path, *, rounds: int, participants: int) -> PoolScenario:
    """A funded Open pool of the tiny task with the default rule (trusted mean)."""
    world = PoolScenario(
        EmbeddedGateway(), tmp_path / "store", task=tiny_task("trusted_mean", hidden=(8,))
    )
    await world.setup()
    await world.create(max_participants=participants, max_rounds=rounds)
    await world.fund(SOL * rounds)
    return world


async def _agent(
    world: PoolScenario,
    tmp_path: Path,
    name: str,
    *,
    seed: int,
    behaviour: str = "honest",
    wallet: Keypair | None = None,
    chain: ChainGateway | None = None,
    store: LocalStore | None = None,
    reporter: RecordingReporter | None = None,
) -> tuple[ParticipantAgent, RecordingReporter]:
    """An agent with its own wallet (funded), payout wallet, data and folders."""
    if wallet is None:
        wallet = Keypair()
        await world.chain.airdrop(wallet.pubkey(), 2 * SOL)
    reporter = reporter or RecordingReporter(name)
    config = AgentConfig(
        pool=world.key,
        data=tiny_data_file(tmp_path, seed),
        data_dir=tmp_path / name / "agent",
        secrets_dir=tmp_path / name / "secrets",
        stake=STAKE,
        payout_wallet=Keypair().pubkey(),
        behaviour=Behaviour.parse(behaviour),
        claim=True,
        seed=seed,
        poll_interval=0.01,
    )
    agent = ParticipantAgent(chain or world.chain, store or world.store, wallet, config, reporter)
    return agent, reporter


async def _start_when_joined(world: PoolScenario, count: int) -> None:
    async def everyone_joined() -> bool:
        return (await world.pool_state()).participant_count == count

    await wait_for(everyone_joined)
    await world.start()


async def test_agents_follow_a_pool_to_the_end_and_claim(tmp_path) -> None:
    # Given an Open pool of 2 rounds and five agents: two honest, a free-rider,
    # a sign-flipper and one that reveals other bytes than it committed to
    world = await _pool(tmp_path, rounds=2, participants=5)
    behaviours = ["honest", "honest", "free-rider", "sign-flip", "tampered"]
    agents = [
        await _agent(world, tmp_path, f"{b}-{i}", seed=i, behaviour=b)
        for i, b in enumerate(behaviours)
    ]
    judge = RoundJudge(world.chain, world.store, world.aggregator, world.key, world.task)

    # When they run (joining themselves) and the operator judges each round
    async def scenario():  # type: ignore[no-untyped-def]
        runs = [asyncio.create_task(agent.run()) for agent, _ in agents]
        await _start_when_joined(world, len(agents))
        await judge.run()
        return await asyncio.gather(*runs)

    results = await asyncio.wait_for(scenario(), 120)

    # Then the pool finished and every agent ended with it
    assert (await world.pool_state()).status is PoolStatus.FINISHED
    assert all(isinstance(r, Ended) and r.status is PoolStatus.FINISHED for r in results)
    verdicts = {
        b: [(v["verdict"], v["reason"]) for v in reporter.of("verdict")]
        for b, (_, reporter) in zip(behaviours, agents, strict=True)
    }
    # the honest ones were accepted each round, the free-rider and the sign-flipper
    # only excluded (no slash), the tampered one slashed once and then shut out
    assert verdicts["honest"] == [("Accepted", "ok")] * 2
    assert verdicts["free-rider"] == [("Excluded", "free_rider")] * 2
    assert [v for v, _ in verdicts["sign-flip"]] == ["Excluded"] * 2
    assert verdicts["tampered"] == [("Slashed", "hash_mismatch")]
    # one commitment per agent and round, never refused
    for behaviour, (_, reporter) in zip(behaviours, agents, strict=True):
        assert len(reporter.of("committed")) == (1 if behaviour == "tampered" else 2)
        assert reporter.of("refused") == [] and reporter.of("retrying") == []
    # the honest rewards were claimed to the committed payout wallets; under the
    # default (contribution) policy the two honest ones shared both rounds' reward
    honest_paid = 0
    for behaviour, (agent, reporter) in zip(behaviours, agents, strict=True):
        claimed = reporter.of("claimed")
        if behaviour == "honest":
            assert len(claimed) == 1 and claimed[0]["paid_lamports"] > 0
            payout = agent.config.payout_wallet
            assert await world.chain.get_balance(payout) == claimed[0]["paid_lamports"]
            honest_paid += claimed[0]["paid_lamports"]
        else:
            assert claimed == []
        # everyone withdrew, and every participant account is closed
        assert [w["closed"] for w in reporter.of("withdrawn")] == [True]
        assert await find_participant(world.chain, world.key, agent.wallet.pubkey()) is None
    assert honest_paid == 2 * SOL
    # the tampered agent got half its stake back (slash_bps 5000), the others all of it
    tampered_back = agents[4][1].of("withdrawn")[0]["returned_lamports"]
    honest_back = agents[0][1].of("withdrawn")[0]["returned_lamports"]
    assert honest_back - tampered_back == STAKE // 2
    # and no update bytes are left behind
    for agent, _ in agents:
        assert agent.journal.rounds() == []


# (transaction to die at, after it landed?, or event to die after) and what the
# first run left: (update journaled, committed on chain, revealed on chain)
KILL_POINTS = [
    pytest.param(None, False, "trained", (False, False, False), id="trained-not-journaled"),
    pytest.param(2, False, None, (True, False, False), id="journaled-commit-not-sent"),
    pytest.param(2, True, None, (True, True, False), id="commit-landed-unseen"),
    pytest.param(3, False, None, (True, True, False), id="reveal-not-sent"),
    pytest.param(3, True, None, (True, True, True), id="reveal-landed-unseen"),
]


@pytest.mark.parametrize(("send", "landed", "event", "left"), KILL_POINTS)
async def test_a_killed_agent_resumes_without_a_second_commitment(
    tmp_path, send, landed, event, left
) -> None:
    # Given a one-round pool, a peer, and a victim killed at one point of its
    # round (its transactions: 1 join, 2 commitment, 3 reveal)
    world = await _pool(tmp_path, rounds=1, participants=2)
    peer, _ = await _agent(world, tmp_path, "peer", seed=1)
    victim_wallet = Keypair()
    await world.chain.airdrop(victim_wallet.pubkey(), 2 * SOL)
    killer = KillingGateway(world.chain, send, landed=landed) if send else world.chain
    first, first_said = await _agent(
        world,
        tmp_path,
        "victim",
        seed=2,
        wallet=victim_wallet,
        chain=killer,
        reporter=RecordingReporter("victim", kill_on=event),
    )
    judge = RoundJudge(world.chain, world.store, world.aggregator, world.key, world.task)
    peer_run = asyncio.create_task(peer.run())
    first_run = asyncio.create_task(first.run())
    await _start_when_joined(world, 2)
    with pytest.raises(Killed):
        await asyncio.wait_for(first_run, 60)
    journal = UpdateJournal(tmp_path / "victim" / "agent", world.key, victim_wallet.pubkey())
    kept = journal.load(1)
    on_chain = await find_submission(world.chain, world.key, 1, victim_wallet.pubkey())
    revealed = on_chain is not None and on_chain.revealed
    assert (kept is not None, on_chain is not None, revealed) == left
    if kept is not None and send != 3:  # killed before its reveal began: nothing uploaded
        assert not world.store.has(compute_cid(kept.reveal))

    # When it is restarted with the same wallet and data folder
    second, second_said = await _agent(world, tmp_path, "victim", seed=2, wallet=victim_wallet)
    judge_run = asyncio.create_task(judge.run())
    result = await asyncio.wait_for(second.run(), 60)
    await asyncio.wait_for(asyncio.gather(peer_run, judge_run), 60)

    # Then it finished the round: one commitment in all, the bytes it journaled
    # revealed, the verdict printed once, nothing refused by the program
    assert isinstance(result, Ended) and result.status is PoolStatus.FINISHED
    commitments = first_said.of("committed") + second_said.of("committed")
    if on_chain is not None:  # the first run's commitment landed: the second sent none
        assert second_said.of("committed") == []
    assert len(commitments) <= 1
    assert first_said.of("refused") == second_said.of("refused") == []
    submission = await find_submission(world.chain, world.key, 1, victim_wallet.pubkey())
    assert submission is not None and submission.revealed
    if kept is not None:
        assert submission.update_hash == kept.update_hash == canonical_hash(kept.reveal)
    for said in (first_said, second_said):
        for line in said.of("committed"):
            assert line["update_hash"] == submission.update_hash.hex()
    verdicts = first_said.of("verdict") + second_said.of("verdict")
    assert [(v["verdict"], v["reason"]) for v in verdicts] == [("Accepted", "ok")]
    assert journal.rounds() == []


class _LyingStore(LocalStore):
    """A store (a gateway, a peer) that serves other bytes for one CID."""

    def __init__(self, root: Path, cid: str, served: bytes) -> None:
        super().__init__(root)
        self.cid, self.served = cid, served

    def get(self, cid, *args, **kwargs):  # type: ignore[no-untyped-def]
        return self.served if cid == self.cid else super().get(cid, *args, **kwargs)


async def test_a_global_model_that_does_not_match_the_chain_is_refused(tmp_path) -> None:
    # Given a Training pool whose global model the agent's store serves wrong
    world = await _pool(tmp_path, rounds=1, participants=2)
    trainer = await world.new_trainer()
    await world.join(trainer)
    await world.join(await world.new_trainer())
    await world.start()
    state = await world.pool_state()
    other = {k: v + 1.0 for k, v in world.task.initial_tensors().items()}
    liar = _LyingStore(tmp_path / "store", state.global_model_cid_str, encode_tensors(other))
    agent, said = await _agent(world, tmp_path, "fooled", seed=3, wallet=trainer.wallet, store=liar)

    # When the agent runs, Then it stops with the named error before training or sending
    with pytest.raises(GlobalModelMismatch, match="does not match the hash recorded on chain"):
        await asyncio.wait_for(agent.run(), 30)
    assert said.of("trained") == [] and said.of("committed") == []
    assert await find_submission(world.chain, world.key, 1, trainer.wallet.pubkey()) is None
    assert agent.journal.rounds() == []


async def test_a_silent_aggregator_is_expired_and_the_stake_comes_back(tmp_path) -> None:
    # Given a one-participant pool whose aggregator never judges
    world = await _pool(tmp_path, rounds=1, participants=1)
    agent, said = await _agent(world, tmp_path, "alone", seed=4)
    run = asyncio.create_task(agent.run())
    await _start_when_joined(world, 1)

    async def revealed() -> bool:
        return bool(said.of("revealed"))

    await wait_for(revealed)
    # When the round passes its expiry time unfinalized
    world.chain.set_time((await world.round_state()).expires_at)
    result = await asyncio.wait_for(run, 30)

    # Then the agent expired it itself and withdrew its whole stake
    assert isinstance(result, Ended) and result.status is PoolStatus.EXPIRED
    assert [e["round"] for e in said.of("expired")] == [1]
    withdrawn = said.of("withdrawn")
    assert len(withdrawn) == 1 and withdrawn[0]["closed"]
    assert withdrawn[0]["returned_lamports"] > STAKE  # the stake plus the account's rent
    assert said.of("verdict") == [] and said.of("missed")[-1]["why"].startswith("never judged")


async def test_a_pool_never_started_is_expired_by_the_agent(tmp_path) -> None:
    world = await _pool(tmp_path, rounds=1, participants=2)
    agent, said = await _agent(world, tmp_path, "early", seed=5)
    run = asyncio.create_task(agent.run())

    async def joined() -> bool:
        return bool(said.of("joined"))

    await wait_for(joined)
    state = await world.pool_state()
    world.chain.set_time(state.join_deadline + state.expiry_grace)
    result = await asyncio.wait_for(run, 30)
    assert isinstance(result, Ended) and result.status is PoolStatus.EXPIRED
    assert len(said.of("pool_expired")) == 1
    assert [w["closed"] for w in said.of("withdrawn")] == [True]


async def test_a_dp_sgd_agent_prints_epsilon_and_stops_at_the_budget(tmp_path) -> None:
    # Given a 2-round pool whose task plans its ε budget over 1 round of DP-SGD
    from client_kit.training.accounting import PrivacyBudgetExhausted, PrivacyLedger
    from client_kit.training.spec import mlp_spec
    from client_kit.training.task import AggregationSpec, DPSGDConfig, TaskPackage, TrainingConfig

    dp = DPSGDConfig(epsilon=1.0, delta=1e-4, max_grad_norm=1.0, rounds=1)
    task = TaskPackage.create(
        "dp", "", mlp_spec(3, [], 2), TrainingConfig(epochs=1, batch_size=16, dp_sgd=dp),
        aggregation=AggregationSpec("fedavg"),
    )
    world = PoolScenario(EmbeddedGateway(), tmp_path / "store", task=task)
    await world.setup()
    await world.create(max_participants=1, max_rounds=2)
    await world.fund(SOL * 2)
    agent, said = await _agent(world, tmp_path, "private", seed=1)
    judge = RoundJudge(world.chain, world.store, world.aggregator, world.key, world.task)
    run = asyncio.create_task(agent.run())
    judging = asyncio.create_task(judge.run())
    try:
        await _start_when_joined(world, 1)
        # When it follows the pool: round 1 trains, round 2 would exceed the budget
        with pytest.raises(PrivacyBudgetExhausted) as refused:
            await asyncio.wait_for(run, 60)
    finally:
        run.cancel()
        judging.cancel()
        await asyncio.gather(run, judging, return_exceptions=True)

    # Then round 1's ε (from the accountant) was printed, within the budget
    [spent] = said.of("privacy")
    assert spent["round"] == 1 and 0 < spent["epsilon_round"] == spent["epsilon_total"] <= 1.0
    assert spent["epsilon_budget"] == 1.0 and spent["delta"] == 1e-4
    # the ledger beside the journal holds it, and round 2 was refused with the figures
    ledger = PrivacyLedger.load(agent.journal.folder / "privacy.json")
    assert ledger is not None and sorted(ledger.rounds) == [1]
    assert refused.value.round == 2 and refused.value.would_be > 1.0
    # and nothing was committed for round 2
    assert [c["round"] for c in said.of("committed")] == [1]
    assert await find_submission(world.chain, world.key, 2, agent.wallet.pubkey()) is None


def test_the_privacy_line_reads_for_a_person() -> None:
    from offchain.agent.report import AgentEvent

    line = AgentEvent(
        "privacy",
        {
            "round": 2,
            "epsilon_round": 0.5,
            "epsilon_total": 0.75,
            "epsilon_budget": 1.0,
            "delta": 1e-5,
            "noise_multiplier": 1.2,
            "accountant": "rdp",
        },
    ).text()
    assert line == (
        "round 2: DP-SGD spent ε = 0.500 (δ = 1e-05, σ = 1.200); in total ε = 0.750 of the budget 1"
    )
