"""Commit–reveal windows: submission (commitment) → reveal → judge → finalize."""

from __future__ import annotations

from solders.instruction import AccountMeta, Instruction

from client_kit.enums import Reason, Verdict
from tests.program.world import PoolWorld, expect_error


def test_commitment_hides_the_update_until_the_reveal(training_world: PoolWorld) -> None:
    w = training_world
    a = w.trainers[0]
    submitted = w.submit(a)
    assert set(submitted.events[0].fields) == {
        "pool",
        "wallet",
        "round",
        "update_commitment",
        "num_samples",
    }
    assert submitted.events[0].fields["update_commitment"] == w.commitment(a)
    submission = w.submission_state(a)
    assert submission.update_commitment == w.commitment(a)
    assert submission.update_hash == bytes(32) and submission.update_cid == bytes(64)
    assert not submission.revealed


def test_a_copied_commitment_cannot_be_revealed(training_world: PoolWorld) -> None:
    # Given a copier that reads the peer's commitment on chain and commits the same bytes
    w = training_world
    peer, copier, _ = w.trainers
    w.submit(peer)
    copied = w.submission_state(peer).update_commitment
    w.send(
        [
            w.ix.submit_update(
                copier.wallet.pubkey(),
                w.pool,
                1,
                update_commitment=copied,
                num_samples=100,
                base_model_hash=w.pool_state().global_model_hash,
            )
        ],
        copier.wallet,
    )
    w.set_time(w.round_state(1).deadline)
    # When the peer reveals, the copier learns the peer's hash and CID
    w.reveal(peer, cid="bafkreipeer")
    opened = w.submission_state(peer)
    assert opened.update_hash == w.update_hash(peer) and opened.update_cid_str == "bafkreipeer"
    # Then revealing them as its own is refused by name and changes nothing
    copier_submission = w.ix.submission(w.pool, 1, copier.wallet.pubkey())
    expect_error(
        w,
        "UpdateCommitmentMismatch",
        lambda: w.reveal(copier, cid="bafkreipeer", update_hash=opened.update_hash),
        copier_submission,
    )
    assert not w.submission_state(copier).revealed
    assert w.round_state(1).revealed_count == 1
    # and the copier's commitment stays unrevealed: after the reveal deadline it is slashed
    w.set_time(w.round_state(1).reveal_deadline)
    w.judge(copier, Verdict.SLASHED, 0, reason=Reason.NOT_REVEALED)
    assert w.participant_state(copier).stake == w.participant_state(peer).stake // 2


def test_a_reveal_must_open_the_own_commitment(training_world: PoolWorld) -> None:
    w = training_world
    for t in w.trainers:
        w.submit(t)
    a = w.trainers[0]
    # another update's hash does not open a's commitment
    expect_error(
        w, "UpdateCommitmentMismatch", lambda: w.reveal(a, update_hash=w.update_hash(a, b"x"))
    )
    expect_error(w, "EmptyHash", lambda: w.reveal(a, update_hash=bytes(32)))
    revealed = w.reveal(a)
    assert revealed.events[0].fields["update_hash"] == w.update_hash(a)
    assert w.submission_state(a).update_hash == w.update_hash(a)


def test_reveal_opens_when_the_submission_phase_closes(training_world: PoolWorld) -> None:
    w = training_world
    a, b, c = w.trainers
    w.submit(a)
    w.submit(b)
    # c has not committed and the deadline is ahead: a reveal would leak a's update
    expect_error(w, "RoundStillOpen", lambda: w.reveal(a))
    w.set_time(w.round_state(1).deadline)
    revealed = w.reveal(a, cid="bafkreiaaa")
    assert revealed.events[0].fields["revealed_count"] == 1
    submission = w.submission_state(a)
    assert submission.revealed and submission.update_cid_str == "bafkreiaaa"
    assert submission.revealed_at == w.now()
    expect_error(w, "AlreadyRevealed", lambda: w.reveal(a, cid="bafkreibbb"))
    expect_error(w, "RoundDeadlinePassed", lambda: w.submit(c))


def test_full_participation_opens_the_reveal_before_the_deadline(
    training_world: PoolWorld,
) -> None:
    w = training_world
    for t in w.trainers:
        w.submit(t)
    assert w.now() < w.round_state(1).deadline
    w.reveal(w.trainers[0])
    assert w.round_state(1).revealed_count == 1


def test_reveal_rules(training_world: PoolWorld) -> None:
    w = training_world
    a, b, _ = w.trainers
    w.submit(a)
    w.submit(b)
    w.set_time(w.round_state(1).deadline)
    # an all-zero CID field (the client refuses to build one; send the bytes by hand)
    valid = w.ix.reveal_update(a.wallet.pubkey(), w.pool, 1, w.update_hash(a), "bafkreix")
    empty = Instruction(valid.program_id, bytes(valid.data)[:-64] + bytes(64), valid.accounts)
    expect_error(w, "EmptyHash", lambda: w.send([empty], a.wallet))
    # b signs a reveal of a's submission
    foreign = w.ix.reveal_update(b.wallet.pubkey(), w.pool, 1, w.update_hash(a), "bafkreix")
    metas = list(foreign.accounts)
    metas[3] = AccountMeta(w.ix.submission(w.pool, 1, a.wallet.pubkey()), False, True)
    stolen = Instruction(foreign.program_id, bytes(foreign.data), metas)
    expect_error(w, "AccountMismatch", lambda: w.send([stolen], b.wallet))
    # the round argument must name the submission's round
    wrong_round = w.ix.reveal_update(a.wallet.pubkey(), w.pool, 2, w.update_hash(a), "bafkreix")
    metas = list(wrong_round.accounts)
    metas[2] = AccountMeta(w.ix.round(w.pool, 1), False, True)
    metas[3] = AccountMeta(w.ix.submission(w.pool, 1, a.wallet.pubkey()), False, True)
    mixed = Instruction(wrong_round.program_id, bytes(wrong_round.data), metas)
    expect_error(w, "AccountMismatch", lambda: w.send([mixed], a.wallet))
    w.set_time(w.round_state(1).reveal_deadline)
    expect_error(w, "RevealClosed", lambda: w.reveal(a))


def test_unrevealed_commitment_is_judged_only_after_the_reveal_deadline_as_not_revealed(
    training_world: PoolWorld,
) -> None:
    w = training_world
    a, b, c = w.trainers
    for t in (a, b, c):
        w.submit(t)
    w.reveal(a)
    w.reveal(b)
    expect_error(
        w,
        "RevealStillOpen",
        lambda: w.judge(c, Verdict.SLASHED, 0, reason=Reason.NOT_REVEALED),
    )
    w.judge(a, Verdict.ACCEPTED, 5_000)  # revealed: judged at once
    expect_error(w, "InvalidVerdict", lambda: w.judge(b, Verdict.SLASHED, reason=6))
    w.judge(b, Verdict.ACCEPTED, 5_000)
    expect_error(w, "RevealStillOpen", w.finalize)
    w.set_time(w.round_state(1).reveal_deadline)
    expect_error(w, "InvalidVerdict", lambda: w.judge(c, Verdict.ACCEPTED, 0))
    expect_error(w, "InvalidVerdict", lambda: w.judge(c, Verdict.SLASHED, 0, reason=1))
    expect_error(w, "InvalidVerdict", lambda: w.judge(c, Verdict.EXCLUDED, 0))
    expect_error(w, "PendingJudgements", w.finalize)
    stake = w.participant_state(c).stake
    w.judge(c, Verdict.SLASHED, 0, reason=Reason.NOT_REVEALED)
    assert w.participant_state(c).stake == stake // 2
    assert w.participant_state(c).status == "Slashed"
    w.finalize()
    # the reveal phase of a finalized round is over for good
    expect_error(w, "WrongRound", lambda: w.reveal(c))


def test_finalize_waits_for_every_reveal_or_the_reveal_deadline(
    training_world: PoolWorld,
) -> None:
    w = training_world
    a, b, _ = w.trainers
    expect_error(w, "RoundStillOpen", w.finalize)
    w.submit(a)
    w.submit(b)
    w.set_time(w.round_state(1).deadline)
    expect_error(w, "RevealStillOpen", w.finalize)
    w.reveal(a)
    w.reveal(b)
    expect_error(w, "PendingJudgements", w.finalize)
    w.judge(a, Verdict.ACCEPTED, 5_000)
    w.judge(b, Verdict.EXCLUDED, 0, reason=Reason.TRUST)
    finalized = w.finalize()
    fields = finalized.events[0].fields
    assert (fields["accepted_count"], fields["excluded_count"], fields["slashed_count"]) == (
        1,
        1,
        0,
    )
    round2 = w.round_state(2)
    assert round2.deadline == w.now() + 600
    assert round2.eligible_count == 3  # an excluded participant stays active


def test_nobody_committed_finalizes_at_the_deadline(training_world: PoolWorld) -> None:
    w = training_world
    w.set_time(w.round_state(1).deadline)
    w.finalize()
    assert w.round_state(1).finalized and w.pool_state().round == 2


def test_reveal_only_while_the_pool_trains(training_world: PoolWorld) -> None:
    w = training_world
    a = w.trainers[0]
    w.submit(a)
    w.set_time(w.round_state(1).expires_at)
    w.expire_round()
    expect_error(w, "InvalidPoolStatus", lambda: w.reveal(a))
