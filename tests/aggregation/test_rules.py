"""Each rule's math on small hand-checkable inputs, against a numpy oracle."""

from __future__ import annotations

import numpy as np
import pytest

from client_kit.enums import Reason
from client_kit.training.task import AggregationSpec
from offchain.aggregation import RULES, UpdateInput, make_rule, rule_for_task
from offchain.aggregation.multikrum import krum_scores
from offchain.errors import InvalidRule

from .conftest import make_base, make_updates

ATOL = 1e-6


def deltas(updates: list[UpdateInput], name: str) -> np.ndarray:
    return np.stack([u.tensors[name].astype(np.float64) for u in updates])


def single(values: list[list[float]], samples: list[int] | None = None) -> list[UpdateInput]:
    samples = samples or [1] * len(values)
    return [
        UpdateInput(f"k{i}", {"w": np.array(v, np.float32)}, n)
        for i, (v, n) in enumerate(zip(values, samples, strict=True))
    ]


ZERO_BASE = {"w": np.zeros(3, np.float32)}

# (rule, params, updates, expected global model) — hand-checkable
HAND_TABLE = [
    ("fedavg", {"sample_cap": None}, single([[1, 2, 3], [3, 2, 1]], [1, 3]), [2.5, 2.0, 1.5]),
    # claims capped at 2 × the lower median claim (1): weights 1 and 2
    ("fedavg", {}, single([[1, 2, 3], [3, 2, 1]], [1, 3]), [7 / 3, 2.0, 5 / 3]),
    ("median", {}, single([[1, 5, 0], [2, 1, 0], [9, 3, 1]]), [2, 3, 0]),
    ("median", {}, single([[1, 0, 0], [2, 0, 0], [3, 0, 0], [4, 0, 1]]), [2.5, 0, 0]),
    (
        "trimmed_mean",
        {"beta": 0.2},
        single([[1, 1, 1], [2, 2, 2], [3, 3, 3], [4, 4, 4], [5, -1, 5]]),
        [3, 2, 3],
    ),
    (
        "multikrum",
        {"byzantine_fraction": 0.2, "keep": 4},
        single([[1, 1, 1], [1.1, 1, 1], [0.9, 1, 1], [1, 1.1, 1], [1, -1, -1]]),
        [1.0, 1.025, 1.0],
    ),
]


@pytest.mark.parametrize(("rule", "params", "updates", "expected"), HAND_TABLE)
def test_rule_on_hand_checkable_input(rule, params, updates, expected) -> None:
    result = make_rule(rule, **params).aggregate(ZERO_BASE, updates)
    np.testing.assert_allclose(result.global_model["w"], expected, atol=ATOL)


ORACLES = {
    "fedavg": lambda d, n: np.tensordot(n, d, 1) / n.sum(),
    "median": lambda d, n: np.median(d, axis=0),
    "trimmed_mean": lambda d, n: np.sort(d, axis=0)[1:-1].mean(0),  # N=7, β=0.2 → cut 1
}


@pytest.mark.parametrize("rule", sorted(ORACLES))
@pytest.mark.parametrize("seed", [0, 1])
def test_rule_matches_numpy_oracle(rule: str, seed: int) -> None:
    # Given 7 random updates with no outliers
    base = make_base({"w": (6, 5), "b": (5,)}, seed)
    updates = make_updates(base, 7, seed + 10)
    samples = np.array([u.num_samples for u in updates], dtype=np.float64)
    # When aggregated
    result = make_rule(rule).aggregate(base, updates)
    # Then global = base + oracle(deltas)
    for name in base:
        expected = base[name] + ORACLES[rule](deltas(updates, name), samples)
        np.testing.assert_allclose(result.global_model[name], expected, atol=ATOL)


def test_krum_scores_sum_nearest_squared_distances() -> None:
    points = np.array([[0.0], [1.0], [3.0], [10.0]])
    distances = (points - points.T) ** 2
    # n=4, f=0 → 2 nearest others
    assert krum_scores(distances, 0) == [1.0 + 9.0, 1.0 + 4.0, 4.0 + 9.0, 49.0 + 81.0]


def test_multikrum_excludes_far_update_and_ties_break_by_key() -> None:
    # Given four updates at equal pairwise distances (a regular tetrahedron) and a far one
    corners = [[11, 11, 11], [11, 9, 9], [9, 11, 9], [9, 9, 11]]
    updates = single([*corners, [90, 90, 90]])
    # When Multi-Krum keeps 3, Then the tie goes to the smaller keys and nobody is slashed
    result = make_rule("multikrum", keep=3).aggregate(ZERO_BASE, updates)
    assert [v.accepted for v in result.verdicts] == [True, True, True, False, False]
    assert [v.reason for v in result.verdicts][3:] == ["robust_rule", "norm_outlier"]
    np.testing.assert_allclose(result.global_model["w"], [31 / 3, 31 / 3, 29 / 3], atol=ATOL)


def test_fltrust_matches_formula() -> None:
    # Given a reference and three updates (one opposed)
    rng = np.random.default_rng(3)
    base = {"w": np.zeros(50, np.float32)}
    reference = {"w": rng.standard_normal(50).astype(np.float32)}
    raw = [
        reference["w"] * 2 + rng.standard_normal(50).astype(np.float32),
        reference["w"] * 0.5 + rng.standard_normal(50).astype(np.float32),
        -reference["w"],
    ]
    updates = [UpdateInput(f"k{i}", {"w": w}, 5) for i, w in enumerate(raw)]
    # When aggregated with cosine trust
    result = make_rule("fltrust").aggregate(base, updates, reference=reference)
    # Then it equals Σ ReLU(cos)·(|g0|/|gi|)·gi / Σ ReLU(cos)
    g0 = reference["w"].astype(np.float64)
    trust = np.array([max(0.0, w @ g0 / np.linalg.norm(w) / np.linalg.norm(g0)) for w in raw])
    scaled = [np.linalg.norm(g0) / np.linalg.norm(w) * w.astype(np.float64) for w in raw]
    expected = sum(t * s for t, s in zip(trust, scaled, strict=True)) / trust.sum()
    np.testing.assert_allclose(result.global_model["w"], expected, atol=1e-4)
    assert [v.reason for v in result.verdicts] == ["ok", "ok", "trust"]
    assert result.verdicts[2].score_bps == 0


@pytest.mark.parametrize("rule", sorted(RULES))
def test_scores_sum_to_10000_and_rejected_score_zero(rule: str, small_round) -> None:
    base, updates = small_round
    reference = {n: np.mean([u.tensors[n] for u in updates], axis=0) for n in base}
    result = make_rule(rule).aggregate(base, updates, reference=reference)
    accepted = [v for v in result.verdicts if v.accepted]
    assert accepted
    assert sum(v.score_bps for v in accepted) == 10_000
    assert all(v.score_bps == 0 for v in result.verdicts if not v.accepted)
    assert [v.key for v in result.verdicts] == sorted(u.key for u in updates)


@pytest.mark.parametrize("rule", ["fltrust", "trusted_mean"])
def test_reference_rules_refuse_to_run_without_reference(rule: str, small_round) -> None:
    base, updates = small_round
    with pytest.raises(ValueError, match="reference"):
        make_rule(rule).aggregate(base, updates)


def test_unknown_rule_name_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown aggregation rule"):
        make_rule("bogus")


def test_no_accepted_update_keeps_the_base_model() -> None:
    base = {"w": np.ones(3, np.float32)}
    updates = [UpdateInput("a", {"w": np.zeros(3, np.float32)}, 1)]
    result = make_rule("fedavg").aggregate(base, updates)
    assert result.verdicts[0].reason == "free_rider"
    np.testing.assert_array_equal(result.global_model["w"], base["w"])


def test_a_pool_sets_the_replay_screens_peer_threshold_and_out_of_range_is_refused() -> None:
    # Given two honest-looking updates nearly parallel to a published peer update
    base = {"w": np.zeros(4, np.float32)}
    published = {"peer": {"w": np.array([1.0, 1.0, 1.0, 1.0], np.float32)}}
    updates = [
        UpdateInput("a", {"w": np.array([1.0, 1.0, 1.0, 1.05], np.float32)}, 10),
        UpdateInput("b", {"w": np.array([1.0, 1.0, 1.05, 1.0], np.float32)}, 10),
    ]

    def codes(**params: float) -> list[int]:
        rule = rule_for_task(AggregationSpec("fedavg", params))
        result = rule.aggregate(base, updates, published=published)
        return [int(v.code) for v in result.verdicts]

    # When judged with the default threshold (0.95) both look like copies of the peer,
    # and with the pool's own 0.9999 neither does
    assert codes() == [int(Reason.REPLAY)] * 2
    assert codes(peer_replay_cos=0.9999) == [int(Reason.OK)] * 2
    # a threshold outside [0.5, 1] is refused by name
    for bad in (0.2, 1.5):  # (NaN never gets this far: the task package refuses it)
        with pytest.raises(InvalidRule, match="peer_replay_cos"):
            rule_for_task(AggregationSpec("fedavg", {"peer_replay_cos": bad}))
    with pytest.raises(InvalidRule, match="replay_tolerance"):
        rule_for_task(AggregationSpec("fedavg", {"replay_tolerance": 0.9}))
    rule = rule_for_task(AggregationSpec("fedavg", {"replay_tolerance": 1e-9}))
    assert rule.prefilter.replay_tolerance == 1e-9
