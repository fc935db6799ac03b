"""Verdict classes as the program enforces them (docs/PROTOCOL.md)."""

from __future__ import annotations

import pytest

from client_kit.enums import Reason, Verdict
from tests.program.world import SOL, PoolWorld, expect_error

REFUSED = [
    (Verdict.ACCEPTED, Reason.TRUST, 100),  # accepted needs reason 0
    (Verdict.ACCEPTED, Reason.HASH_MISMATCH, 100),
    (Verdict.SLASHED, Reason.OK, 0),  # slashing needs an objective reason
    (Verdict.SLASHED, Reason.ROBUST_RULE, 0),  # a statistical doubt never slashes
    (Verdict.SLASHED, Reason.MALFORMED, 1),  # slashed scores 0
    (Verdict.EXCLUDED, Reason.MALFORMED, 0),  # an objective fault is not a doubt
    (Verdict.EXCLUDED, Reason.OK, 0),
    (Verdict.EXCLUDED, Reason.FREE_RIDER, 1),  # excluded scores 0
    (Verdict.EXCLUDED, 128, 0),  # no class above 127
    (Verdict.SLASHED, 255, 0),
    (Verdict.SLASHED, Reason.NOT_REVEALED, 0),  # the update was revealed
    (Verdict.PENDING, Reason.OK, 0),
    (4, Reason.OK, 0),  # no such verdict
]


@pytest.mark.parametrize(("verdict", "reason", "score"), REFUSED)
def test_verdict_outside_its_class_is_refused(
    training_world: PoolWorld, verdict: int, reason: int, score: int
) -> None:
    w = training_world
    w.commit_and_reveal(w.trainers)
    expect_error(w, "InvalidVerdict", lambda: w.judge(w.trainers[0], verdict, score, reason=reason))


@pytest.mark.parametrize(
    "reason", [Reason.HASH_MISMATCH, Reason.MALFORMED, Reason.NON_FINITE, Reason.SHAPE, 63]
)
def test_objective_fault_slashes_and_stops_the_participant(
    training_world: PoolWorld, reason: int
) -> None:
    w = training_world
    a, b, c = w.trainers
    w.commit_and_reveal(w.trainers)
    judged = w.judge(a, Verdict.SLASHED, 0, reason=reason)
    assert judged.events[0].fields["verdict"] == "Slashed"
    assert judged.events[0].fields["reason"] == reason
    assert judged.events[0].fields["slashed"] == SOL // 4
    participant = w.participant_state(a)
    assert participant.status == "Slashed" and participant.slashed_count == 1
    assert participant.stake == SOL // 4
    pool = w.pool_state()
    assert pool.total_slashed == SOL // 4 and pool.active_participants == 2
    assert w.round_state(1).slashed_count == 1
    w.judge(b, Verdict.ACCEPTED, 5_000)
    w.judge(c, Verdict.ACCEPTED, 5_000)
    w.finalize()
    expect_error(w, "ParticipantNotActive", lambda: w.submit(a, 2))
    assert w.round_state(2).eligible_count == 2


@pytest.mark.parametrize("reason", [Reason.TRUST, Reason.FREE_RIDER, Reason.ROBUST_RULE, 127])
def test_statistical_doubt_excludes_without_slashing(
    training_world: PoolWorld, reason: int
) -> None:
    w = training_world
    a, b, c = w.trainers
    w.commit_and_reveal(w.trainers)
    judged = w.judge(a, Verdict.EXCLUDED, 0, reason=reason)
    fields = judged.events[0].fields
    assert (fields["verdict"], fields["reward"], fields["slashed"]) == ("Excluded", 0, 0)
    participant = w.participant_state(a)
    assert participant.status == "Active" and participant.stake == SOL // 2
    assert (participant.excluded_count, participant.slashed_count) == (1, 0)
    assert participant.reward_accrued == 0
    assert w.round_state(1).excluded_count == 1
    w.judge(b, Verdict.ACCEPTED, 5_000)
    w.judge(c, Verdict.ACCEPTED, 5_000)
    w.finalize()
    w.submit(a, 2)  # may continue next round
    assert w.round_state(2).eligible_count == 3


def test_accepted_earns_its_score_share(training_world: PoolWorld) -> None:
    w = training_world
    a = w.trainers[0]
    w.commit_and_reveal(w.trainers)
    judged = w.judge(a, Verdict.ACCEPTED, 2_500)
    assert judged.events[0].fields["reward"] == SOL // 4
    participant = w.participant_state(a)
    assert participant.reward_accrued == SOL // 4 and participant.accepted_count == 1
    zero = w.judge(w.trainers[1], Verdict.ACCEPTED, 0)  # accepted, nothing earned
    assert zero.events[0].fields["reward"] == 0
