"""The pool's whole life, written once against `ChainGateway`, run on every backend."""

from __future__ import annotations

import pytest
from solders.keypair import Keypair

from client_kit.actions import participant
from client_kit.actions.participant import (
    NotCommitted,
    NotTheCommittedUpdate,
    RevealNotOpen,
    RevealWindowClosed,
    StakeTooLow,
)
from client_kit.canonical import tensors_hash, update_commitment
from client_kit.enums import PoolStatus, Reason, Verdict
from client_kit.errors import FedstakeProgramError
from client_kit.events import (
    ParticipantJoined,
    PoolCreated,
    PoolFunded,
    RewardClaimed,
    RoundExpired,
    RoundFinalized,
    StakeWithdrawn,
    SubmissionJudged,
    TrainingStarted,
    UpdateRevealed,
    UpdateSubmitted,
)
from client_kit.gateway.base import ChainGateway
from tests.gateway.conftest import advance_to
from tests.pools import SOL, PoolScenario, filled

pytestmark = pytest.mark.timeout(60)
FEE = 5_000  # lamports per signature, on LiteSVM and on Surfpool


async def test_pool_life_moves_every_lamport_where_the_books_say(
    chain: ChainGateway, tmp_path
) -> None:
    world = PoolScenario(chain, tmp_path / "store")
    await world.setup()
    # Given a created and funded pool with three trainers
    created = await world.create()
    assert [type(e) for e in created.tx.events] == [PoolCreated]
    assert created.tx.compute_units > 0 and created.tx.signature
    assert created.initial_model_hash == world.task.initial_weights_hash
    pool_rent = await chain.get_balance(world.key)
    funded = await world.fund(SOL)
    assert [(type(e), e.amount) for e in funded.tx.events] == [(PoolFunded, SOL)]
    honest_a, honest_b, attacker = [await world.new_trainer() for _ in range(3)]
    for trainer in (honest_a, honest_b, attacker):
        joined = await world.join(trainer)
        assert [type(e) for e in joined.tx.events] == [ParticipantJoined]
    assert [type(e) for e in (await world.start()).events] == [TrainingStarted]
    # When all commit and reveal, two are accepted, one is slashed, and the round finalizes
    for trainer in (honest_a, honest_b, attacker):
        submitted = await world.submit(trainer)
        assert [type(e) for e in submitted.tx.events] == [UpdateSubmitted]
        assert submitted.tx.events[0].update_commitment == submitted.update_commitment
    submission = await world.submission_state(honest_a)
    own_hash = tensors_hash(world.update_for(honest_a))
    assert submission.update_commitment == update_commitment(
        own_hash, bytes(honest_a.wallet.pubkey())
    )
    assert submission.base_model_hash == world.task.initial_weights_hash
    assert not submission.revealed  # neither the hash nor the CID is on chain yet
    assert submission.update_hash == bytes(32) and submission.update_cid == bytes(64)
    for trainer in (honest_a, honest_b, attacker):  # everyone committed: reveals open
        revealed = await world.reveal(trainer)
        assert [type(e) for e in revealed.tx.events] == [UpdateRevealed]
        assert world.store.get(revealed.update_cid)
    revealed_a = await world.submission_state(honest_a)
    assert revealed_a.revealed and revealed_a.update_hash == own_hash
    await world.judge(honest_a, Verdict.ACCEPTED, 6_000)
    await world.judge(honest_b, Verdict.ACCEPTED, 4_000)
    judged = await world.judge(attacker, Verdict.SLASHED, 0, Reason.NON_FINITE)
    assert [type(e) for e in judged.events] == [SubmissionJudged]
    event = judged.events[0]
    assert (event.verdict, event.reason, event.slashed) == (
        Verdict.SLASHED,
        Reason.NON_FINITE,
        SOL // 4,
    )
    global_model = filled(world.task, 0.5)
    finalized = await world.finalize(global_model)
    assert RoundFinalized in [type(e) for e in finalized.tx.events]
    # Then the books and the on-chain hashes say so
    pool = await world.pool_state()
    assert pool.status is PoolStatus.FINISHED
    assert pool.global_model_hash == finalized.global_model_hash == tensors_hash(global_model)
    assert (await world.round_state(1)).global_model_hash == finalized.global_model_hash
    assert (await world.participant_state(honest_a)).reward_accrued == 600_000_000
    assert (await world.participant_state(honest_b)).reward_accrued == 400_000_000
    assert (await world.participant_state(attacker)).stake == SOL // 4
    assert pool.total_slashed == SOL // 4
    assert await chain.get_balance(world.key) == pool_rent + SOL + 3 * (SOL // 2)
    # When a relayer claims with the commitment reveal, and everyone withdraws
    relayer = Keypair()
    await chain.airdrop(relayer.pubkey(), SOL)
    claimed = await world.claim(honest_a, relayer)
    assert [type(e) for e in claimed.tx.events] == [RewardClaimed]
    assert claimed.paid == 600_000_000
    await world.claim(honest_b, relayer)
    assert await chain.get_balance(honest_a.payout.pubkey()) == 600_000_000
    assert await chain.get_balance(honest_b.payout.pubkey()) == 400_000_000
    for trainer in (honest_a, honest_b, attacker):
        participant_rent = await chain.get_balance(world.participant(trainer))
        withdrawn = await world.withdraw(trainer)
        assert [type(e) for e in withdrawn.tx.events] == [StakeWithdrawn]
        stake = SOL // 4 if trainer is attacker else SOL // 2
        # exactly one signature fee is paid
        assert withdrawn.returned == stake + participant_rent - FEE
        assert await chain.get_account(world.participant(trainer)) is None
    # Then the pool holds exactly its rent plus the slashed stake
    assert await chain.get_balance(world.key) == pool_rent + SOL // 4
    assert (await world.pool_state()).total_paid == SOL


async def test_named_program_error_leaves_state_unchanged(chain: ChainGateway, tmp_path) -> None:
    world = PoolScenario(chain, tmp_path / "store")
    await world.setup()
    await world.create(min_stake=SOL // 4)
    await world.fund(SOL)
    trainer = await world.new_trainer()
    pool_before = await world.raw(world.key)
    balance_before = await chain.get_balance(world.key)
    # the program refuses to start a pool nobody joined, by name, with Anchor's line
    with pytest.raises(FedstakeProgramError) as caught:
        await world.start()
    assert caught.value.name == "NoParticipants" and caught.value.code == 6020
    assert any("custom program error" in line for line in caught.value.logs)
    anchor_line = (
        "Program log: AnchorError occurred. Error Code: NoParticipants. Error Number: 6020. "
        "Error Message: training cannot start without participants."
    )
    assert anchor_line in caught.value.logs
    # a stake below the minimum is refused before anything is sent
    with pytest.raises(StakeTooLow):
        await world.join(trainer, stake=SOL // 8)
    assert await world.raw(world.key) == pool_before
    assert await chain.get_balance(world.key) == balance_before
    assert await chain.get_account(world.participant(trainer)) is None


async def test_round_deadline_lets_the_round_finalize_without_everyone(
    chain: ChainGateway, tmp_path
) -> None:
    world = PoolScenario(chain, tmp_path / "store")
    await world.setup()
    await world.create(round_duration=600)
    await world.fund(SOL)
    worker, idler = await world.new_trainer(), await world.new_trainer()
    await world.join(worker)
    await world.join(idler)
    await world.start()
    await world.submit(worker)
    with pytest.raises(RevealNotOpen):  # the idler has not committed: too early to upload
        await world.reveal(worker)
    with pytest.raises(FedstakeProgramError) as caught:
        await world.finalize(filled(world.task, 0.1))
    assert caught.value.name == "RoundStillOpen"
    deadline = (await world.round_state(1)).deadline
    await advance_to(chain, deadline + 1)
    assert await chain.unix_time() > deadline
    with pytest.raises(FedstakeProgramError) as late:
        await world.submit(idler)
    assert late.value.name == "RoundDeadlinePassed"
    await world.reveal(worker)  # the only commitment revealed: the reveal phase is over
    await world.judge(worker, Verdict.ACCEPTED, 10_000)
    await world.finalize(filled(world.task, 0.2))
    assert (await world.round_state(1)).finalized
    assert (await world.participant_state(worker)).reward_accrued == SOL


async def test_reveal_checks_everything_before_uploading(chain: ChainGateway, tmp_path) -> None:
    # Given a training pool where one of two trainers committed
    world = PoolScenario(chain, tmp_path / "store")
    await world.setup()
    await world.create()
    await world.fund(SOL)
    alice, bob = await world.new_trainer(), await world.new_trainer()
    for trainer in (alice, bob):
        await world.join(trainer)
    await world.start()
    await world.submit(alice)
    other = participant.prepare_update(filled(world.task, 0.7))
    stored_before = sorted(p.name for p in world.store.root.rglob("*"))
    # When reveals come too early, for another update, or from a wallet that never committed
    with pytest.raises(RevealNotOpen):  # bob may still commit: uploading would leak it
        await world.reveal(alice)
    await advance_to(chain, (await world.round_state()).deadline)
    with pytest.raises(NotTheCommittedUpdate):
        await world.reveal(alice, other)
    with pytest.raises(NotCommitted):
        await world.reveal(bob, other)
    await advance_to(chain, (await world.round_state()).reveal_deadline)
    with pytest.raises(RevealWindowClosed):
        await world.reveal(alice)
    # Then nothing was uploaded and nothing was revealed
    assert sorted(p.name for p in world.store.root.rglob("*")) == stored_before
    assert not (await world.submission_state(alice)).revealed


async def test_a_silent_aggregator_is_expired_and_the_pool_emptied_by_strangers(
    chain: ChainGateway, tmp_path
) -> None:
    # Given a pool in training whose aggregator never judges
    world = PoolScenario(chain, tmp_path / "store")
    await world.setup()
    await world.create(claim_window=600)
    await world.fund(SOL)
    alice = await world.new_trainer()
    await world.join(alice)
    await world.start()
    await world.submit(alice)
    stranger = Keypair()
    await chain.airdrop(stranger.pubkey(), SOL)
    with pytest.raises(FedstakeProgramError) as early:
        await world.expire_round(stranger)
    assert early.value.name == "ExpiryNotReached"
    # When anyone expires the round once its grace is over
    await advance_to(chain, (await world.round_state()).expires_at)
    expired = await world.expire_round(stranger)
    assert [type(e) for e in expired.events] == [RoundExpired]
    assert (await world.pool_state()).status is PoolStatus.EXPIRED
    # Then alice takes back her whole stake, the organization its funding, and the pool closes
    withdrawn = await world.withdraw(alice)
    assert withdrawn.closed and withdrawn.returned > SOL // 2
    org_before = await chain.get_balance(world.organization.pubkey())
    reclaimed = await world.reclaim(stranger)
    assert reclaimed.amount == SOL and reclaimed.organization == world.organization.pubkey()
    assert await chain.get_balance(world.organization.pubkey()) == org_before + SOL
    with pytest.raises(FedstakeProgramError) as again:
        await world.reclaim(stranger)
    assert again.value.name == "NothingToReclaim"
    await advance_to(chain, (await world.pool_state()).ended_at + 600)
    await world.close(stranger)
    assert await chain.get_account(world.key) is None
