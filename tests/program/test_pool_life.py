"""Happy paths of every instruction, driven through the real program."""

from __future__ import annotations

from client_kit.enums import Reason, Verdict
from tests.program.world import INITIAL_HASH, SOL, START, PoolWorld


def test_full_pool_life_moves_every_lamport_where_the_books_say(world: PoolWorld) -> None:
    # Given a created and funded pool with three trainers
    world.create(max_rounds=1)
    pool_rent = world.lamports(world.pool)
    world.fund(SOL)
    honest_a, honest_b, attacker = (world.new_trainer() for _ in range(3))
    for trainer in (honest_a, honest_b, attacker):
        world.join(trainer, stake=SOL // 2)
    world.start()
    # When all commit and reveal, two are accepted, one is slashed, and the round finalizes
    world.commit_and_reveal([honest_a, honest_b, attacker])
    world.judge(honest_a, Verdict.ACCEPTED, 6_000)
    world.judge(honest_b, Verdict.ACCEPTED, 4_000)
    world.judge(attacker, Verdict.SLASHED, 0, reason=Reason.NON_FINITE)
    world.finalize(1)
    # Then rewards are pro rata, the attacker lost half its stake, the pool finished
    pool = world.pool_state()
    assert pool.status == "Finished"
    assert world.participant_state(honest_a).reward_accrued == 600_000_000
    assert world.participant_state(honest_b).reward_accrued == 400_000_000
    assert world.participant_state(attacker).stake == SOL // 4
    assert pool.total_slashed == SOL // 4
    assert pool.global_model_hash != INITIAL_HASH
    # slashing moves stake to the reward balance; the lamports stay in the pool
    assert world.lamports(world.pool) == pool_rent + SOL + 3 * (SOL // 2)
    # When rewards are claimed by a relayer and stakes withdrawn
    world.claim(honest_a)
    world.claim(honest_b)
    assert world.lamports(honest_a.payout.pubkey()) == 600_000_000
    for trainer in (honest_a, honest_b, attacker):
        world.withdraw(trainer)
    # Then the pool holds exactly its rent plus the slashed stake, and closing returns it
    assert world.lamports(world.pool) == pool_rent + SOL // 4
    org_before = world.lamports(world.organization.pubkey())
    world.close_pool()
    assert world.raw(world.pool) is None
    assert world.lamports(world.organization.pubkey()) == org_before + SOL // 4 + pool_rent - 5_000


def test_two_rounds_chain_the_global_model(training_world: PoolWorld) -> None:
    world = training_world
    world.commit_and_reveal(world.trainers)
    for trainer in world.trainers:
        world.judge(trainer, Verdict.ACCEPTED, 3_333)
    world.finalize(1)
    round1 = world.round_state(1)
    round2 = world.round_state(2)
    assert round1.finalized and round2.base_model_hash == round1.global_model_hash
    assert world.pool_state().round == 2
    # everyone committed and revealed at START: round 2 opens at once, windows chained
    assert round2.deadline == START + 600
    assert round2.reveal_deadline == START + 600 + 300
    assert round2.expires_at == START + 600 + 300 + 1_000


def test_cancel_refunds_funding_and_releases_stakes(world: PoolWorld) -> None:
    world.create()
    world.fund(2 * SOL)
    trainer = world.new_trainer()
    world.join(trainer, stake=SOL)
    org_before = world.lamports(world.organization.pubkey())
    world.cancel()
    assert world.lamports(world.organization.pubkey()) == org_before + 2 * SOL - 5_000
    wallet_before = world.lamports(trainer.wallet.pubkey())
    participant_rent = world.lamports(world.ix.participant(world.pool, trainer.wallet.pubkey()))
    world.withdraw(trainer)
    assert world.lamports(trainer.wallet.pubkey()) == wallet_before + SOL + participant_rent - 5_000
    assert world.pool_state().status == "Cancelled"


def test_events_are_emitted_anchor_style(world: PoolWorld) -> None:
    world.create()
    result = world.send(
        [world.ix.fund_pool(world.organization.pubkey(), world.pool, 123)], world.organization
    )
    assert [e.name for e in result.events] == ["PoolFunded"]
    assert result.events[0].fields["amount"] == 123
    assert result.events[0].fields["funder"] == world.organization.pubkey()
