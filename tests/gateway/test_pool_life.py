"""The pool's whole life, written once against `ChainGateway`, run on every backend."""

from __future__ import annotations

import hashlib

import pytest
from solders.keypair import Keypair

from client_kit.errors import FedstakeProgramError
from client_kit.gateway.base import ChainGateway
from client_kit.protocol import Reason, Verdict
from client_kit.scenario import INITIAL_HASH, SOL, AsyncPool, update_hash
from tests.gateway.conftest import advance_to

pytestmark = pytest.mark.timeout(60)


async def test_pool_life_moves_every_lamport_where_the_books_say(chain: ChainGateway) -> None:
    world = AsyncPool(chain)
    await world.setup()
    # Given a created and funded pool with three trainers
    created = await world.create()
    assert [e.name for e in created.events] == ["PoolCreated"]
    assert created.compute_units > 0 and created.signature
    pool_rent = await chain.get_balance(world.pool)
    funded = await world.fund(SOL)
    assert [(e.name, e.fields["amount"]) for e in funded.events] == [("PoolFunded", SOL)]
    honest_a, honest_b, attacker = [await world.new_trainer() for _ in range(3)]
    for trainer in (honest_a, honest_b, attacker):
        joined = await world.join(trainer)
        assert [e.name for e in joined.events] == ["ParticipantJoined"]
    assert [e.name for e in (await world.start()).events] == ["TrainingStarted"]
    # When all commit and reveal, two are accepted, one is slashed, and the round finalizes
    for trainer in (honest_a, honest_b, attacker):
        submitted = await world.submit(trainer)
        assert [e.name for e in submitted.events] == ["UpdateSubmitted"]
    submission = await world.submission_state(honest_a)
    assert submission.update_hash == update_hash(honest_a)
    assert submission.base_model_hash == INITIAL_HASH
    assert not submission.revealed and submission.update_cid == bytes(64)
    for trainer in (honest_a, honest_b, attacker):  # everyone committed: reveals open
        revealed = await world.reveal(trainer)
        assert [e.name for e in revealed.events] == ["UpdateRevealed"]
    await world.judge(honest_a, Verdict.ACCEPTED, 6_000)
    await world.judge(honest_b, Verdict.ACCEPTED, 4_000)
    judged = await world.judge(attacker, Verdict.SLASHED, 0, Reason.NON_FINITE)
    assert [e.name for e in judged.events] == ["SubmissionJudged"]
    assert judged.events[0].fields["verdict"] == "Slashed"
    global_hash = hashlib.sha256(b"global 1").digest()
    finalized = await world.finalize(global_hash)
    assert "RoundFinalized" in [e.name for e in finalized.events]
    # Then the books and the on-chain hashes say so
    pool = await world.pool_state()
    assert pool.status == "Finished"
    assert pool.global_model_hash == global_hash
    assert (await world.round_state(1)).global_model_hash == global_hash
    assert (await world.participant_state(honest_a)).reward_accrued == 600_000_000
    assert (await world.participant_state(honest_b)).reward_accrued == 400_000_000
    assert (await world.participant_state(attacker)).stake == SOL // 4
    assert pool.total_slashed == SOL // 4
    assert await chain.get_balance(world.pool) == pool_rent + SOL + 3 * (SOL // 2)
    # When a relayer claims with the commitment reveal, and everyone withdraws
    relayer = Keypair()
    await chain.airdrop(relayer.pubkey(), SOL)
    claimed = await world.claim(honest_a, relayer)
    assert [e.name for e in claimed.events] == ["RewardClaimed"]
    await world.claim(honest_b, relayer)
    assert await chain.get_balance(honest_a.payout.pubkey()) == 600_000_000
    assert await chain.get_balance(honest_b.payout.pubkey()) == 400_000_000
    for trainer in (honest_a, honest_b, attacker):
        wallet_before = await chain.get_balance(trainer.wallet.pubkey())
        participant_rent = await chain.get_balance(world.participant(trainer))
        withdrawn = await world.withdraw(trainer)
        assert [e.name for e in withdrawn.events] == ["StakeWithdrawn"]
        stake = SOL // 4 if trainer is attacker else SOL // 2
        fee = (
            wallet_before
            + stake
            + participant_rent
            - (await chain.get_balance(trainer.wallet.pubkey()))
        )
        assert 0 <= fee <= 10_000  # one signature fee (5,000 on both backends)
        assert await chain.get_account(world.participant(trainer)) is None
    # Then the pool holds exactly its rent plus the slashed stake
    assert await chain.get_balance(world.pool) == pool_rent + SOL // 4
    assert (await world.pool_state()).total_paid == SOL


async def test_named_program_error_leaves_state_unchanged(chain: ChainGateway) -> None:
    world = AsyncPool(chain)
    await world.setup()
    await world.create(min_stake=SOL // 2)
    await world.fund(SOL)
    trainer = await world.new_trainer()
    pool_before = await world.raw(world.pool)
    balance_before = await chain.get_balance(world.pool)
    with pytest.raises(FedstakeProgramError) as caught:
        await world.join(trainer, stake=SOL // 4)
    assert caught.value.name == "StakeTooLow" and caught.value.code == 6018
    assert any("custom program error" in line for line in caught.value.logs)
    anchor_line = (
        "Program log: AnchorError occurred. Error Code: StakeTooLow. Error Number: 6018. "
        "Error Message: the stake is below the pool's min_stake."
    )
    assert anchor_line in caught.value.logs
    assert await world.raw(world.pool) == pool_before
    assert await chain.get_balance(world.pool) == balance_before
    assert await chain.get_account(world.participant(trainer)) is None


async def test_round_deadline_lets_the_round_finalize_without_everyone(
    chain: ChainGateway,
) -> None:
    world = AsyncPool(chain)
    await world.setup()
    await world.create(round_duration=600)
    await world.fund(SOL)
    worker, idler = await world.new_trainer(), await world.new_trainer()
    await world.join(worker)
    await world.join(idler)
    await world.start()
    await world.submit(worker)
    with pytest.raises(FedstakeProgramError) as early_reveal:
        await world.reveal(worker)
    assert early_reveal.value.name == "RoundStillOpen"
    with pytest.raises(FedstakeProgramError) as caught:
        await world.finalize(hashlib.sha256(b"early").digest())
    assert caught.value.name == "RoundStillOpen"
    deadline = (await world.round_state(1)).deadline
    await advance_to(chain, deadline + 1)
    assert await chain.unix_time() > deadline
    with pytest.raises(FedstakeProgramError) as late:
        await world.submit(idler)
    assert late.value.name == "RoundDeadlinePassed"
    await world.reveal(worker)
    await world.judge(worker, Verdict.ACCEPTED, 10_000)
    await world.finalize(hashlib.sha256(b"on time").digest())
    assert (await world.round_state(1)).finalized
    assert (await world.participant_state(worker)).reward_accrued == SOL
