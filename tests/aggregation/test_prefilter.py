"""The shared pre-filter: objective faults slash, statistical doubts only exclude."""

from __future__ import annotations

import numpy as np
import pytest

from client_kit.enums import Reason, ReasonKind, UnknownVariant, Verdict
from offchain.aggregation import (
    GLOBAL_DELTA,
    RULES,
    Judgment,
    UpdateInput,
    make_rule,
    objective_reason,
)

BASE = {"w": np.zeros((2, 3), np.float32), "b": np.zeros(3, np.float32)}
BOUND = 5.0


def good(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {n: (0.1 * rng.standard_normal(v.shape)).astype(np.float32) for n, v in BASE.items()}


def with_value(seed: int, name: str, index: tuple, value: float) -> dict[str, np.ndarray]:
    tensors = good(seed)
    tensors[name][index] = value
    return tensors


def honest_round() -> list[UpdateInput]:
    return [UpdateInput(f"honest{i}", good(10 + i), 10) for i in range(6)]


# (reason, verdict class, tensors, num_samples)
BAD_CASES = [
    ("malformed", "slashed", good(1), 0),
    ("malformed", "slashed", good(1), -5),
    ("shape", "slashed", {"w": np.zeros((3, 2), np.float32), "b": good(2)["b"]}, 10),
    ("shape", "slashed", {"w": good(2)["w"]}, 10),
    ("shape", "slashed", {**good(2), "extra": np.zeros(1, np.float32)}, 10),
    ("shape", "slashed", {"w": good(3)["w"].astype(np.float64), "b": good(3)["b"]}, 10),
    ("non_finite", "slashed", with_value(99, "w", (0, 1), np.nan), 10),
    ("non_finite", "slashed", with_value(98, "b", (2,), -np.inf), 10),
    ("norm_bound", "slashed", with_value(97, "b", (0,), BOUND * 1.001), 10),
    ("free_rider", "excluded", {n: np.zeros_like(v) for n, v in BASE.items()}, 10),
    ("free_rider", "excluded", {n: v * 1e-4 for n, v in good(4).items()}, 10),
    ("norm_outlier", "excluded", {n: v * 20 for n, v in good(5).items()}, 10),
]


@pytest.mark.parametrize("rule", sorted(RULES))
@pytest.mark.parametrize(("reason", "kind", "tensors", "samples"), BAD_CASES)
def test_bad_update_gets_named_reason_and_class(rule, reason, kind, tensors, samples) -> None:
    # Given six honest updates and one bad one, in a pool with a declared norm bound
    bad = UpdateInput("bad", tensors, samples)
    # When any rule aggregates them
    result = make_rule(rule, norm_bound=BOUND).aggregate(
        BASE, [*honest_round(), bad], reference=good(10)
    )
    # Then the bad one gets the named reason, the class it implies, and no score
    verdict = result.verdict("bad")
    assert (verdict.reason, verdict.verdict.value.lower(), verdict.score_bps) == (reason, kind, 0)
    assert not any(v.slashed for v in result.verdicts if v.key != "bad")
    assert all(np.isfinite(v).all() for v in result.global_model.values())


@pytest.mark.parametrize(("reason", "kind", "tensors", "samples"), BAD_CASES)
def test_objective_reason_reproduces_every_slash_alone(reason, kind, tensors, samples) -> None:
    # Given one update, judged without its round (as verify-round or the participant can)
    found = objective_reason(BASE, UpdateInput("bad", tensors, samples), BOUND)
    # Then it names exactly the slashable faults, and nothing statistical
    assert found.code == (reason if kind == "slashed" else "ok")


def test_norm_bound_is_declared_not_statistical() -> None:
    # Given a round where everyone is 20× over the old statistical norm... and within the bound
    big = [UpdateInput(f"k{i}", {n: v * 20 for n, v in good(i).items()}, 10) for i in range(5)]
    # When judged with a bound above their norms, Then nobody is slashed
    result = make_rule("fedavg", norm_bound=100.0).aggregate(BASE, big)
    assert all(v.accepted for v in result.verdicts)
    # And with no bound declared, an absurd norm is only a statistical outlier
    huge = UpdateInput("huge", {n: v * 1e6 for n, v in good(9).items()}, 10)
    verdict = make_rule("fedavg").aggregate(BASE, [*honest_round(), huge]).verdict("huge")
    assert verdict.verdict is Verdict.EXCLUDED and verdict.reason == "norm_outlier"


def test_update_clipped_to_exactly_the_bound_is_not_slashed() -> None:
    # Given an update clipped to norm 5 in float64 and rounded to float32 (client_kit's clip)
    raw = good(3)
    norm = np.sqrt(sum(float(np.sum(v.astype(np.float64) ** 2)) for v in raw.values()))
    clipped = {
        n: (v.astype(np.float64) * (BOUND / norm)).astype(np.float32) for n, v in raw.items()
    }
    # When checked against the bound 5, Then it passes (float32 rounding is within the margin)
    assert objective_reason(BASE, UpdateInput("c", clipped, 1), BOUND) is Reason.OK
    over = {n: v * np.float32(1.00001) for n, v in clipped.items()}
    assert objective_reason(BASE, UpdateInput("c", over, 1), BOUND) is Reason.NORM_BOUND


@pytest.mark.parametrize("bound", [0.0, -1.0, float("inf"), float("nan")])
def test_invalid_declared_bound_is_refused(bound: float) -> None:
    with pytest.raises(ValueError, match="norm_bound"):
        make_rule("fedavg", norm_bound=bound)


def published_round() -> dict[str, dict[str, np.ndarray]]:
    """Last round's revealed updates by author, and its global delta."""
    updates = {f"honest{i}": good(50 + i) for i in range(4)}
    return {**updates, GLOBAL_DELTA: good(60)}


def jittered(tensors: dict[str, np.ndarray], relative: float, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {
        n: (v + relative * 0.1 * rng.standard_normal(v.shape)).astype(np.float32)
        for n, v in tensors.items()
    }


@pytest.mark.parametrize("rule", sorted(RULES))
def test_near_copy_of_a_published_update_is_excluded_as_replay(rule: str) -> None:
    # Given last round's revealed updates, and a participant resubmitting one with 1e-6 noise
    copier = UpdateInput("copier", jittered(published_round()["honest2"], 1e-6, 1), 10)
    # When judged with the published updates
    result = make_rule(rule).aggregate(
        BASE, [*honest_round(), copier], reference=good(10), published=published_round()
    )
    # Then the copy is excluded (not slashed), and no fresh update is called a replay
    verdict = result.verdict("copier")
    assert (verdict.reason, verdict.verdict) == ("replay", Verdict.EXCLUDED)
    assert all(v.reason != "replay" for v in result.verdicts if v.key != "copier")
    assert result.details["replay_cosines"]["honest0"] < 0.9  # type: ignore[index]


@pytest.mark.parametrize(
    ("source", "noise", "reason"),
    [
        ("honest1", 0.2, "replay"),  # a peer's previous update, 20% noise: cos ≈ 0.98
        ("honest1", 0.6, "ok"),  # 60% noise: cos ≈ 0.86, below the peer threshold
        (GLOBAL_DELTA, 0.2, "replay"),  # the previous global delta
        ("copier", 0.05, "ok"),  # its own previous update, changed by 5%: a real update
        ("copier", 1e-7, "replay"),  # its own previous update resent unchanged
    ],
)
def test_replay_thresholds_for_peers_and_for_ones_own_previous_update(source, noise, reason):
    # Given last round's updates, the copier's own among them
    published = {**published_round(), "copier": good(70)}
    copier = UpdateInput("copier", jittered(published[source], noise, 3), 10)
    # When judged
    result = make_rule("fedavg").aggregate(BASE, [*honest_round(), copier], published=published)
    # Then the verdict follows the thresholds
    assert result.verdict("copier").reason == reason


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        ((5, 9, 7), ["ok", "replay", "replay"]),  # the earliest commitment keeps its verdict
        ((9, 5, 7), ["replay", "ok", "replay"]),
        ((5, 5, 7), ["replay", "replay", "replay"]),  # tied earliest: nobody can be told apart
    ],
)
def test_identical_updates_of_one_round_keep_only_the_earliest(times, expected) -> None:
    # Given one update committed three times (a copied commitment hash, revealed after the victim)
    same = good(77)
    copies = [UpdateInput(f"dup{i}", same, 10, committed_at=t) for i, t in enumerate(times)]
    # When judged
    result = make_rule("fedavg").aggregate(BASE, [*honest_round(), *copies])
    # Then the later commitments are excluded as replays
    assert [result.verdict(f"dup{i}").reason for i in range(3)] == expected


def test_reason_codes_are_the_protocol_u8s_and_imply_the_class() -> None:
    expected = {
        "ok": (0, "accepted"),
        "hash_mismatch": (1, "slashed"),
        "malformed": (2, "slashed"),
        "non_finite": (3, "slashed"),
        "shape": (4, "slashed"),
        "norm_bound": (5, "slashed"),
        "not_revealed": (6, "slashed"),
        "duplicate": (7, "slashed"),
        "trust": (64, "excluded"),
        "unexplained": (65, "excluded"),
        "norm_outlier": (66, "excluded"),
        "free_rider": (67, "excluded"),
        "robust_rule": (68, "excluded"),
        "replay": (69, "excluded"),
    }
    assert {r.code: (int(r), r.verdict.value.lower()) for r in Reason} == expected
    assert [v.tag for v in Verdict] == [0, 1, 2, 3]


def test_reason_classes_follow_the_code_ranges() -> None:
    # 1..63 objective (slashable), 64..127 statistical (exclude), 128.. reserved
    objective = {r for r in Reason if 1 <= r <= 7}
    assert {r for r in Reason if r.kind is ReasonKind.OBJECTIVE} == objective
    assert all(r.verdict is Verdict.SLASHED for r in objective)
    assert Reason.OK.kind is ReasonKind.OK and Reason.OK.verdict is Verdict.ACCEPTED
    assert all(r.kind is ReasonKind.STATISTICAL for r in Reason if 64 <= r < 128)
    assert Reason.ROBUST_RULE.verdict is Verdict.EXCLUDED
    # codes no member names still decode (a newer or foreign aggregator's)
    assert Reason(100).kind is ReasonKind.STATISTICAL and Reason(100).name == "CODE_100"
    assert Reason(100).verdict is Verdict.EXCLUDED and Reason(9).verdict is Verdict.SLASHED
    assert Reason(200).kind is ReasonKind.RESERVED
    with pytest.raises(UnknownVariant):
        _ = Reason(200).verdict


@pytest.mark.parametrize("reason", [r for r in Reason if r is not Reason.OK])
def test_only_an_accepted_verdict_carries_a_score(reason: Reason) -> None:
    with pytest.raises(ValueError, match="score"):
        Judgment("k", reason, 1)
    verdict = Judgment("k", reason)
    assert (verdict.verdict_code, verdict.reason_code) == (reason.verdict.tag, int(reason))


def test_a_copier_cannot_frame_the_participant_it_copies() -> None:
    # Given a victim whose work drifts slowly from round to round, and a copier whose
    # last-round update (accepted) was a near-copy of the victim's update of two rounds ago
    start, drift = good(80), good(81)

    def victim_at(step: int) -> dict[str, np.ndarray]:
        return {n: (v + 0.1 * step * drift[n]).astype(np.float32) for n, v in start.items()}

    published = {"victim": victim_at(1), "copier": jittered(victim_at(0), 0.01, 5)}
    victim = UpdateInput("victim", victim_at(2), 10)
    # When the victim's fresh update is judged
    result = make_rule("fedavg").aggregate(BASE, [*honest_round(), victim], published=published)
    # Then it is close to the copier's update, but closer to its own line of work: accepted
    assert result.details["replay_cosines"]["victim"] >= 0.95  # type: ignore[index]
    assert result.verdict("victim").accepted


def test_a_noisy_replay_of_the_last_global_step_stands_out_from_the_round() -> None:
    # Given 12 fresh updates that share a third of their direction with the last global step,
    # and one participant resubmitting that step with 50% noise (cos ≈ 0.89 with it)
    rng = np.random.default_rng(11)
    base = {"w": np.zeros(500, np.float32)}
    step = rng.standard_normal(500)

    def vector(share: float, seed: int) -> dict[str, np.ndarray]:
        noise = np.random.default_rng(seed).standard_normal(500)
        return {"w": (share * step + noise).astype(np.float32)}

    fresh = [UpdateInput(f"p{i:02d}", vector(0.35, 100 + i), 10) for i in range(12)]
    replay = UpdateInput(
        "replay", {"w": (step + 0.5 * rng.standard_normal(500)).astype(np.float32)}, 10
    )
    published = {GLOBAL_DELTA: {"w": step.astype(np.float32)}}
    # When judged, Then only the replay is excluded
    result = make_rule("fedavg").aggregate(base, [*fresh, replay], published=published)
    assert [v.key for v in result.verdicts if not v.accepted] == ["replay"]
    assert result.verdict("replay").reason == "replay"


def test_a_round_too_small_for_a_spread_is_not_judged_against_the_global_step() -> None:
    # Given a round of two honest updates that both follow the last global step
    # (cosines ≈ 0.86 and 0.93 with it, under the 0.95 copy threshold), as on an
    # easy task with IID data
    rng = np.random.default_rng(12)
    base = {"w": np.zeros(200, np.float32)}
    step = rng.standard_normal(200)

    def along(noise: float, seed: int) -> dict[str, np.ndarray]:
        jitter = np.random.default_rng(seed).standard_normal(200)
        return {"w": (step + noise * jitter).astype(np.float32)}

    updates = [UpdateInput("ana", along(0.6, 1), 10), UpdateInput("ben", along(0.4, 2), 10)]
    published = {GLOBAL_DELTA: {"w": step.astype(np.float32)}}
    # When judged, Then neither stands out: two values have no spread to measure
    result = make_rule("fedavg").aggregate(base, updates, published=published)
    assert [v.reason for v in result.verdicts] == ["ok", "ok"]
    # while among ten fresh updates the same two stand out as replays of the global step
    fresh = [
        UpdateInput(
            f"p{i:02d}",
            {"w": np.random.default_rng(100 + i).standard_normal(200).astype(np.float32)},
            10,
        )
        for i in range(10)
    ]
    crowded = make_rule("fedavg").aggregate(base, [*fresh, *updates], published=published)
    assert [crowded.verdict(k).reason for k in ("ana", "ben")] == ["replay", "replay"]
