"""Authority, relation and status cases of single instructions (the ones the
generic fixture tests cannot express: who signs, whose account, which status)."""

from __future__ import annotations

from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair

from client_kit.enums import Verdict
from tests.program.world import SOL, PoolWorld, expect_error


def _funded(world: PoolWorld, keypair: Keypair | None = None) -> Keypair:
    keypair = keypair or Keypair()
    world.chain.svm.airdrop(keypair.pubkey(), SOL)
    return keypair


def _with(ix: Instruction, index: int, meta: AccountMeta) -> Instruction:
    metas = list(ix.accounts)
    metas[index] = meta
    return Instruction(ix.program_id, bytes(ix.data), metas)


def _finished(world: PoolWorld) -> None:
    world.create(max_rounds=1)
    world.fund(SOL)
    for _ in range(2):
        world.join(world.new_trainer())
    world.start()
    world.commit_and_reveal(world.trainers)
    for t in world.trainers:
        world.judge(t, Verdict.ACCEPTED, 5_000)
    world.finalize()


# --- cancel_pool ---------------------------------------------------------------


def test_cancel_pool_only_by_its_organization(world: PoolWorld) -> None:
    world.create()
    world.fund(SOL)
    stranger = _funded(world)
    ix = world.ix.cancel_pool(stranger.pubkey(), world.pool)
    expect_error(world, "Unauthorized", lambda: world.send([ix], stranger))


def test_cancel_pool_only_while_open(training_world: PoolWorld) -> None:
    w = training_world
    expect_error(w, "InvalidPoolStatus", w.cancel)


def test_cancel_pool_twice_is_refused_and_sets_the_end(world: PoolWorld) -> None:
    world.create()
    world.fund(SOL)
    world.cancel()
    pool = world.pool_state()
    assert pool.status == "Cancelled" and pool.ended_at == world.now()
    assert pool.total_refunded == SOL
    expect_error(world, "InvalidPoolStatus", world.cancel)


# --- finalize_round --------------------------------------------------------------


def test_finalize_round_only_by_the_aggregator(training_world: PoolWorld) -> None:
    w = training_world
    w.commit_and_reveal(w.trainers)
    for t in w.trainers:
        w.judge(t, Verdict.ACCEPTED, 3_000)
    impostor = _funded(w)
    ix = w.ix.finalize_round(
        impostor.pubkey(), w.pool, 1, b"\x01" * 32, "bafkreiglobal", "bafkreirecord"
    )
    expect_error(w, "Unauthorized", lambda: w.send([ix], impostor), impostor.pubkey())


def test_finalize_round_needs_a_round_record(training_world: PoolWorld) -> None:
    # Given a fully judged round
    w = training_world
    w.commit_and_reveal(w.trainers)
    for t in w.trainers:
        w.judge(t, Verdict.ACCEPTED, 3_000)
    valid = w.ix.finalize_round(
        w.aggregator.pubkey(), w.pool, 1, b"\x01" * 32, "bafkreiglobal", "bafkreirecord"
    )
    # When the aggregator finalizes with an empty record CID (the 64 bytes
    # before the data's last one, the next round's bump)
    data = bytes(valid.data)
    empty = Instruction(valid.program_id, data[:-65] + bytes(64) + data[-1:], valid.accounts)
    # Then it is refused
    expect_error(w, "EmptyHash", lambda: w.send([empty], w.aggregator))
    # And with one, the round keeps the record's CID beside the global model's
    w.send([valid], w.aggregator)
    done = w.round_state(1)
    assert (done.global_model_cid_str, done.record_cid_str) == ("bafkreiglobal", "bafkreirecord")


# --- withdraw_stake --------------------------------------------------------------


def test_withdraw_stake_of_another_participant_is_refused(world: PoolWorld) -> None:
    _finished(world)
    victim, thief = world.trainers
    ix = world.ix.withdraw_stake(thief.wallet.pubkey(), world.pool)
    stolen = _with(
        ix, 2, AccountMeta(world.ix.participant(world.pool, victim.wallet.pubkey()), False, True)
    )
    expect_error(world, "AccountMismatch", lambda: world.send([stolen], thief.wallet))


def test_withdraw_stake_only_after_the_pool_ended(world: PoolWorld) -> None:
    world.create()
    trainer = world.new_trainer()
    world.join(trainer)
    expect_error(world, "InvalidPoolStatus", lambda: world.withdraw(trainer))


def test_withdraw_with_reward_unpaid_keeps_the_account_then_closes_it(world: PoolWorld) -> None:
    _finished(world)
    trainer = world.trainers[0]
    first = world.withdraw(trainer)
    assert first.events[0].fields["amount"] == SOL // 2
    assert first.events[0].fields["closed"] is False
    participant = world.participant_state(trainer)
    assert participant.stake == 0 and participant.status == "Exited"
    assert world.pool_state().live_participants == 2
    world.claim(trainer)
    second = world.withdraw(trainer)
    assert (second.events[0].fields["amount"], second.events[0].fields["closed"]) == (0, True)
    assert world.pool_state().live_participants == 1


# --- close_submission ------------------------------------------------------------


def test_close_submission_of_another_wallet_is_refused(world: PoolWorld) -> None:
    _finished(world)
    owner, thief = world.trainers
    ix = world.ix.close_submission(thief.wallet.pubkey(), world.pool, 1)
    stolen = _with(
        ix, 2, AccountMeta(world.ix.submission(world.pool, 1, owner.wallet.pubkey()), False, True)
    )
    expect_error(world, "AccountMismatch", lambda: world.send([stolen], thief.wallet))


def test_close_submission_with_another_pool_is_refused(world: PoolWorld) -> None:
    _finished(world)
    trainer = world.trainers[0]
    world.pool_id = 2
    world.create()
    other_pool = world.pool
    world.pool_id = 1
    ix = world.ix.close_submission(trainer.wallet.pubkey(), world.pool, 1)
    mixed = _with(ix, 1, AccountMeta(other_pool, False, False))
    expect_error(world, "AccountMismatch", lambda: world.send([mixed], trainer.wallet))


def test_close_submission_waits_for_the_verdict_and_the_round(training_world: PoolWorld) -> None:
    w = training_world
    trainer = w.trainers[0]
    w.commit_and_reveal(w.trainers)
    close = w.ix.close_submission(trainer.wallet.pubkey(), w.pool, 1)
    expect_error(w, "SubmissionNotSettled", lambda: w.send([close], trainer.wallet))
    w.judge(trainer, Verdict.ACCEPTED, 1_000)
    expect_error(w, "SubmissionNotSettled", lambda: w.send([close], trainer.wallet))
    for t in w.trainers[1:]:
        w.judge(t, Verdict.ACCEPTED, 1_000)
    w.finalize()
    w.send([close], trainer.wallet)


def test_close_submission_of_an_expired_round_even_unjudged(training_world: PoolWorld) -> None:
    w = training_world
    trainer = w.trainers[0]
    w.submit(trainer)
    w.set_time(w.round_state(1).expires_at)
    w.expire_round()
    w.send([w.ix.close_submission(trainer.wallet.pubkey(), w.pool, 1)], trainer.wallet)


# --- close_pool ------------------------------------------------------------------


def test_close_pool_pays_only_the_organization(world: PoolWorld) -> None:
    world.create()
    world.cancel()
    thief = _funded(world)
    ix = world.ix.close_pool(thief.pubkey(), world.pool)  # thief as "organization"
    expect_error(world, "AccountMismatch", lambda: world.send([ix], thief), thief.pubkey())


def test_close_pool_only_once_ended(world: PoolWorld) -> None:
    world.create()
    expect_error(world, "InvalidPoolStatus", world.close_pool)


def test_close_pool_by_anyone_waits_for_the_claim_window(world: PoolWorld) -> None:
    world.create()
    world.cancel()
    stranger = _funded(world)
    expect_error(world, "ClaimWindowOpen", lambda: world.close_pool(stranger))
    world.close_pool()  # the organization need not wait


# --- expire_round ----------------------------------------------------------------


def test_expire_round_needs_the_current_round(training_world: PoolWorld) -> None:
    w = training_world
    w.commit_and_reveal(w.trainers)
    for t in w.trainers:
        w.judge(t, Verdict.ACCEPTED, 1_000)
    w.finalize()
    w.set_time(w.round_state(2).expires_at)
    stale = w.ix.expire_round(w.pool, 1)
    expect_error(w, "AccountMismatch", lambda: w.send([stale], w.aggregator))
    w.expire_round()


def test_expire_round_not_for_an_open_pool(world: PoolWorld) -> None:
    world.create()
    ix = world.ix.expire_round(world.pool, 1)
    expect_error(world, "InvalidPoolStatus", lambda: world.send([ix], world.aggregator))
