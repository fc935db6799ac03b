"""Each named error of the program, reached through the real instruction."""

from __future__ import annotations

from solders.instruction import Instruction

from client_kit.enums import Verdict
from tests.program.world import SOL, START, PoolWorld, expect_error


def test_unknown_instruction_and_malformed_data(world: PoolWorld) -> None:
    pid = world.ix.program_id
    expect_error(
        world,
        "UnknownInstruction",
        lambda: world.send([Instruction(pid, b"\x00" * 8, [])], world.organization),
    )
    world.create()
    ix = world.ix.fund_pool(world.organization.pubkey(), world.pool, 5)
    long = Instruction(pid, bytes(ix.data) + b"\x00", ix.accounts)
    expect_error(world, "InvalidInstructionData", lambda: world.send([long], world.organization))
    short = Instruction(pid, bytes(ix.data), ix.accounts[:2])
    expect_error(world, "NotEnoughAccounts", lambda: world.send([short], world.organization))


def test_create_pool_parameter_checks(world: PoolWorld) -> None:
    expect_error(world, "InvalidParameter", lambda: world.create(slash_bps=10_001))
    expect_error(world, "InvalidParameter", lambda: world.create(join_deadline=START - 1))
    expect_error(world, "InvalidParameter", lambda: world.create(max_rounds=0))
    expect_error(world, "EmptyHash", lambda: world.create(initial_model_hash=b"\x00" * 32))


def test_join_rules(world: PoolWorld) -> None:
    world.create(max_participants=1)
    low = world.new_trainer()
    expect_error(world, "StakeTooLow", lambda: world.join(low, stake=1))
    world.join(world.new_trainer())
    expect_error(world, "PoolFull", lambda: world.join(world.new_trainer()))
    world.set_time(START + 3_600)
    world.pool_id = 2
    world.create(join_deadline=START + 3_700)
    world.set_time(START + 3_700)
    expect_error(world, "JoinClosed", lambda: world.join(world.new_trainer()))


def test_start_needs_funding_and_participants(world: PoolWorld) -> None:
    world.create()
    expect_error(world, "NoParticipants", world.start)
    world.join(world.new_trainer())
    expect_error(world, "InsufficientFunding", world.start)
    expect_error(world, "InvalidAmount", lambda: world.fund(0))


def test_submission_rules(training_world: PoolWorld) -> None:
    w = training_world
    a, b, _ = w.trainers
    expect_error(w, "StaleBaseModel", lambda: w.submit(a, base=b"\x09" * 32))
    w.submit(a)
    expect_error(w, "AlreadySubmitted", lambda: w.submit(a, tag=b"again"))
    w.set_time(w.round_state(1).deadline)
    expect_error(w, "RoundDeadlinePassed", lambda: w.submit(b))


def test_judging_rules(training_world: PoolWorld) -> None:
    w = training_world
    a, b, c = w.trainers
    w.commit_and_reveal([a, b])  # c never commits: the phase closes at the deadline
    expect_error(w, "InvalidVerdict", lambda: w.judge(b, Verdict.SLASHED, 10))
    w.judge(a, Verdict.ACCEPTED, 8_000)
    expect_error(w, "AlreadyJudged", lambda: w.judge(a, Verdict.ACCEPTED, 100))
    expect_error(w, "ScoreBudgetExceeded", lambda: w.judge(b, Verdict.ACCEPTED, 2_001))
    expect_error(w, "PendingJudgements", lambda: w.finalize(1))
    w.judge(b, Verdict.SLASHED, 0)
    w.finalize(1)
    expect_error(w, "WrongRound", lambda: w.submit(c, 1))
    expect_error(w, "RoundAlreadyFinalized", lambda: w.finalize(1))
    expect_error(w, "ParticipantNotActive", lambda: w.submit(b, 2))


def test_settlement_rules(world: PoolWorld) -> None:
    world.create(max_rounds=1)
    world.fund(SOL)
    t = world.new_trainer()
    world.join(t)
    world.start()
    world.submit(t)
    closing = world.ix.close_submission(t.wallet.pubkey(), world.pool, 1)
    expect_error(world, "SubmissionNotSettled", lambda: world.send([closing], t.wallet))
    expect_error(world, "InvalidPoolStatus", lambda: world.withdraw(t))
    expect_error(world, "NothingToClaim", lambda: world.claim(t))
    world.reveal(t)
    world.judge(t, Verdict.ACCEPTED, 10_000)
    world.finalize(1)
    expect_error(world, "ParticipantsRemaining", world.close_pool)
    # the stake comes back although the reward is unclaimed; the account stays
    world.withdraw(t)
    assert world.participant_state(t).status == "Exited"
    expect_error(world, "RewardUnclaimed", lambda: world.withdraw(t))
    expect_error(world, "ParticipantsRemaining", world.close_pool)
    world.claim(t)
    world.send([closing], t.wallet)
    world.withdraw(t)  # closes the account now that nothing is unpaid
    assert world.raw(world.ix.participant(world.pool, t.wallet.pubkey())) is None
    world.close_pool()
