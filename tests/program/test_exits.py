"""Every way a pool used to lock funds forever (issue 9) now has an exit that
needs nobody's cooperation; each story ends with the pool closed."""

from __future__ import annotations

import asyncio

from solders.account import Account
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client_kit.accounts import Participant, decode_account
from client_kit.actions.organization import next_pool_id
from client_kit.enums import Verdict
from client_kit.keys import payout_commitment
from tests.program.world import FEE, SOL, PoolWorld, Trainer, expect_error


def _stranger(world: PoolWorld) -> Keypair:
    stranger = Keypair()
    world.chain.svm.airdrop(stranger.pubkey(), SOL)
    return stranger


def test_aggregator_silent_round_expires_then_everyone_leaves(training_world: PoolWorld) -> None:
    w = training_world
    a, b, c = w.trainers
    # Given round 1 where a was accepted before the aggregator went silent
    w.commit_and_reveal([a, b])
    w.judge(a, Verdict.ACCEPTED, 4_000)
    round1 = w.round_state(1)
    stranger = _stranger(w)
    # Before the grace period ends nobody can expire it, and stakes stay locked
    w.set_time(round1.expires_at - 1)
    expect_error(w, "ExpiryNotReached", lambda: w.expire_round(stranger))
    expect_error(w, "InvalidPoolStatus", lambda: w.withdraw(b))
    # From expires_at the round can only be expired: the aggregator is too late
    w.set_time(round1.expires_at)
    expect_error(w, "ExpiryReached", lambda: w.judge(b, Verdict.ACCEPTED, 1_000))
    expect_error(w, "ExpiryReached", w.finalize)
    expired = w.expire_round(stranger)
    assert [e.name for e in expired.events] == ["RoundExpired"]
    pool = w.pool_state()
    assert pool.status == "Expired" and pool.ended_at == round1.expires_at
    expect_error(w, "InvalidPoolStatus", lambda: w.expire_round(stranger))
    # Then every participant withdraws its full stake
    for t in (a, b, c):
        before = w.lamports(t.wallet.pubkey())
        w.withdraw(t)
        assert w.lamports(t.wallet.pubkey()) - before >= SOL // 2 - FEE
    # a's accepted reward stays claimable; its account stays open until claimed
    assert w.participant_state(a).reward_unpaid == 400_000_000
    # and anyone returns the unaccrued funding to the organization, once
    org_before = w.lamports(w.organization.pubkey())
    reclaimed = w.reclaim(stranger)
    assert reclaimed.events[0].fields["amount"] == 2 * SOL - 400_000_000
    assert w.lamports(w.organization.pubkey()) == org_before + 2 * SOL - 400_000_000
    expect_error(w, "NothingToReclaim", lambda: w.reclaim(stranger))
    w.claim(a, stranger)
    assert w.lamports(a.payout.pubkey()) == 400_000_000
    w.withdraw(a)  # nothing unpaid any more: the account closes
    closed = w.close_pool()
    assert [e.name for e in closed.events] == ["PoolClosed"]
    assert w.raw(w.pool) is None


def test_pool_never_started_expires_after_join_deadline_and_grace(world: PoolWorld) -> None:
    world.create()
    world.fund(SOL)
    trainer = world.new_trainer()
    world.join(trainer)
    pool = world.pool_state()
    due = pool.join_deadline + pool.expiry_grace
    stranger = _stranger(world)
    world.set_time(due - 1)
    expect_error(world, "ExpiryNotReached", lambda: world.expire_pool(stranger))
    world.set_time(due)
    # start is refused from the very moment expiry becomes possible
    expect_error(world, "ExpiryReached", world.start)
    world.expire_pool(stranger)
    assert world.pool_state().status == "Expired"
    expect_error(world, "InvalidPoolStatus", world.start)
    expect_error(world, "InvalidPoolStatus", lambda: world.expire_pool(stranger))
    expect_error(world, "InvalidPoolStatus", world.fund)
    before = world.lamports(trainer.wallet.pubkey())
    rent = world.lamports(world.ix.participant(world.pool, trainer.wallet.pubkey()))
    world.withdraw(trainer)
    assert world.lamports(trainer.wallet.pubkey()) == before + SOL // 2 + rent - FEE
    world.reclaim(stranger)
    world.close_pool()


def test_payout_wallet_is_the_pool_settled_after_the_claim_window(world: PoolWorld) -> None:
    # Given a participant who committed to the pool itself as its payout wallet
    world.create(max_rounds=1)
    world.fund(SOL)
    honest = world.new_trainer()
    odd = Trainer(Keypair(), Keypair(), b"\x01" * 32)
    world.chain.svm.airdrop(odd.wallet.pubkey(), 5 * SOL)
    world.trainers.append(odd)
    world.join(honest)
    world.send(
        [
            world.ix.join_pool(
                odd.wallet.pubkey(),
                world.pool,
                SOL // 2,
                payout_commitment(world.pool, odd.salt),
            )
        ],
        odd.wallet,
    )
    world.start()
    world.commit_and_reveal([honest, odd])
    world.judge(honest, Verdict.ACCEPTED, 5_000)
    world.judge(odd, Verdict.ACCEPTED, 5_000)
    world.finalize(1)
    # Its reward can never be paid out
    claim = world.ix.claim_reward(world.pool, odd.wallet.pubkey(), world.pool, odd.salt)
    expect_error(world, "DuplicateAccount", lambda: world.send([claim], world.organization))
    # but its stake comes back, and the account waits for the claim window
    world.withdraw(odd)
    assert world.participant_state(odd).stake == 0
    world.claim(honest)
    world.withdraw(honest)
    expect_error(world, "ParticipantsRemaining", world.close_pool)
    stranger = _stranger(world)
    pool = world.pool_state()
    window_end = pool.ended_at + pool.claim_window
    world.set_time(window_end - 1)
    expect_error(world, "ClaimWindowOpen", lambda: world.settle(odd, stranger))
    world.set_time(window_end)
    rent = world.lamports(world.ix.participant(world.pool, odd.wallet.pubkey()))
    wallet_before = world.lamports(odd.wallet.pubkey())
    settled = world.settle(odd, stranger)
    assert settled.events[0].fields["forfeited"] == SOL // 2
    assert settled.events[0].fields["stake_returned"] == 0
    assert world.lamports(odd.wallet.pubkey()) == wallet_before + rent
    assert world.pool_state().total_forfeited == SOL // 2
    # Then the forfeited reward goes back to the organization and the pool closes
    org_before = world.lamports(world.organization.pubkey())
    world.reclaim(stranger)
    assert world.lamports(world.organization.pubkey()) == org_before + SOL // 2
    world.close_pool()
    assert world.raw(world.pool) is None


def test_participant_who_never_withdraws_is_settled_and_anyone_closes(world: PoolWorld) -> None:
    world.create(max_rounds=1)
    world.fund(SOL)
    idle, active = world.new_trainer(), world.new_trainer()
    world.join(idle)
    world.join(active)
    world.start()
    world.commit_and_reveal([idle, active])
    world.judge(idle, Verdict.EXCLUDED, 0)
    world.judge(active, Verdict.ACCEPTED, 10_000)
    world.finalize(1)
    world.claim(active)
    world.withdraw(active)
    stranger = _stranger(world)
    expect_error(world, "ClaimWindowOpen", lambda: world.settle(idle, stranger))
    expect_error(world, "ClaimWindowOpen", lambda: world.close_pool(stranger))
    pool = world.pool_state()
    world.set_time(pool.ended_at + pool.claim_window)
    expect_error(world, "ParticipantsRemaining", lambda: world.close_pool(stranger))
    wallet_before = world.lamports(idle.wallet.pubkey())
    rent = world.lamports(world.ix.participant(world.pool, idle.wallet.pubkey()))
    settled = world.settle(idle, stranger)
    assert settled.events[0].fields == {
        "pool": world.pool,
        "wallet": idle.wallet.pubkey(),
        "stake_returned": SOL // 2,
        "forfeited": 0,
    }
    assert world.lamports(idle.wallet.pubkey()) == wallet_before + SOL // 2 + rent
    # anyone may close now; every lamport still goes to the organization
    org_before = world.lamports(world.organization.pubkey())
    leftover = world.lamports(world.pool)
    closed = world.close_pool(stranger)
    assert closed.events[0].fields["closer"] == stranger.pubkey()
    assert world.lamports(world.organization.pubkey()) == org_before + leftover


def test_pool_id_reused_after_close_is_refused_by_name(world: PoolWorld) -> None:
    # Given pool 1 trained, finished and closed
    world.create(max_rounds=1)
    world.fund(SOL)
    t = world.new_trainer()
    world.join(t)
    world.start()
    world.commit_and_reveal([t])
    world.judge(t, Verdict.ACCEPTED, 10_000)
    world.finalize(1)
    world.claim(t)
    world.withdraw(t)
    world.close_pool()
    assert world.raw(world.ix.round(world.pool, 1)) is not None  # provenance stays
    # When the organization creates pool 1 again, Then it is refused by name
    expect_error(world, "PoolIdRetired", world.create)
    # and the client finds the next usable id
    free = asyncio.run(next_pool_id(world.chain, world.organization.pubkey()))
    assert free == 2
    world.pool_id = free
    world.create()
    # An id whose pool never trained (cancelled, closed) can be used again
    world.cancel()
    world.close_pool()
    world.create()
    assert world.pool_state().status == "Open"


def test_default_address_is_refused_as_aggregator(world: PoolWorld) -> None:
    expect_error(world, "InvalidAggregator", lambda: world.create(aggregator=Pubkey.default()))


def test_reclaim_goes_only_to_the_organization(world: PoolWorld) -> None:
    world.create()
    world.fund(SOL)
    world.cancel()
    thief = _stranger(world)
    ix = world.ix.reclaim_funding(world.pool, thief.pubkey())
    expect_error(world, "AccountMismatch", lambda: world.send([ix], thief))
    expect_error(world, "NothingToReclaim", lambda: world.reclaim(thief))  # cancel refunded all


def test_reclaim_and_settle_wait_for_the_pool_to_end(training_world: PoolWorld) -> None:
    w = training_world
    stranger = _stranger(w)
    expect_error(w, "InvalidPoolStatus", lambda: w.reclaim(stranger))
    expect_error(w, "InvalidPoolStatus", lambda: w.settle(w.trainers[0], stranger))
    expect_error(w, "InvalidPoolStatus", lambda: w.expire_pool(stranger))
    expect_error(w, "InvalidPoolStatus", w.close_pool)


def test_settle_pays_only_the_participants_own_wallet(world: PoolWorld) -> None:
    world.create()
    world.fund(SOL)
    victim = world.new_trainer()
    world.join(victim)
    world.cancel()
    pool = world.pool_state()
    world.set_time(pool.ended_at + pool.claim_window)
    thief = _stranger(world)
    wrong = world.ix.settle_participant(world.pool, victim.wallet.pubkey())
    metas = list(wrong.accounts)
    metas[2] = AccountMeta(thief.pubkey(), False, True)
    forged = Instruction(wrong.program_id, bytes(wrong.data), metas)
    expect_error(world, "AccountMismatch", lambda: world.send([forged], thief), thief.pubkey())


def test_settle_cannot_pay_the_pool_itself(world: PoolWorld) -> None:
    # The participant's address is derived from its wallet, and the pool can
    # never sign a join: a participant whose wallet is the pool (forged here)
    # fails the PDA check, so settle's lamport move can never alias.
    world.create()
    world.fund(SOL)
    trainer = world.new_trainer()
    world.join(trainer)
    world.cancel()
    key = world.ix.participant(world.pool, trainer.wallet.pubkey())
    real = world.chain.svm.get_account(key)
    data = bytearray(bytes(real.data))
    data[8 + 32 : 8 + 64] = bytes(world.pool)
    world.chain.svm.set_account(key, Account(real.lamports, bytes(data), real.owner, False, 0))
    assert decode_account(Participant, bytes(data)).wallet == world.pool
    pool = world.pool_state()
    world.set_time(pool.ended_at + pool.claim_window)
    ix = world.ix.settle_participant(world.pool, trainer.wallet.pubkey())
    metas = list(ix.accounts)
    metas[2] = AccountMeta(world.pool, False, True)
    forged = Instruction(ix.program_id, bytes(ix.data), metas)
    expect_error(world, "InvalidPda", lambda: world.send([forged], world.organization))
