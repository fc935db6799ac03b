"""The shared pre-filter names every kind of invalid update."""

from __future__ import annotations

import numpy as np
import pytest

from client_kit.enums import Reason, ReasonKind, UnknownVariant, Verdict
from offchain.aggregation import RULES, UpdateInput, make_rule

BASE = {"w": np.zeros((2, 3), np.float32), "b": np.zeros(3, np.float32)}


def good(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {n: (0.1 * rng.standard_normal(v.shape)).astype(np.float32) for n, v in BASE.items()}


def with_nan() -> dict[str, np.ndarray]:
    t = good(99)
    t["w"][0, 1] = np.nan
    return t


def with_inf() -> dict[str, np.ndarray]:
    t = good(98)
    t["b"][2] = -np.inf
    return t


BAD_CASES = [
    ("malformed", {**good(1)}, 0),
    ("malformed", {**good(1)}, -5),
    ("shape", {"w": np.zeros((3, 2), np.float32), "b": good(2)["b"]}, 10),
    ("shape", {"w": good(2)["w"]}, 10),
    ("shape", {**good(2), "extra": np.zeros(1, np.float32)}, 10),
    ("shape", {"w": good(3)["w"].astype(np.float64), "b": good(3)["b"]}, 10),
    ("non_finite", with_nan(), 10),
    ("non_finite", with_inf(), 10),
    ("free_rider", {n: np.zeros_like(v) for n, v in BASE.items()}, 10),
    ("free_rider", {n: v * 1e-4 for n, v in good(4).items()}, 10),
    ("norm_outlier", {n: v * 100 for n, v in good(5).items()}, 10),
]


@pytest.mark.parametrize("rule", sorted(RULES))
@pytest.mark.parametrize(("reason", "tensors", "samples"), BAD_CASES)
def test_invalid_update_rejected_with_named_reason(rule, reason, tensors, samples) -> None:
    # Given six honest updates and one bad one
    honest = [UpdateInput(f"honest{i}", good(10 + i), 10) for i in range(6)]
    bad = UpdateInput("bad", tensors, samples)
    reference = good(10)
    # When any rule aggregates them
    result = make_rule(rule).aggregate(BASE, [*honest, bad], reference=reference)
    # Then the bad one is rejected with the named reason and scores nothing
    verdict = result.verdict("bad")
    assert (verdict.accepted, verdict.reason, verdict.score_bps) == (False, reason, 0)
    assert verdict.reason_code == int(Reason.from_code(reason))
    assert all(np.isfinite(v).all() for v in result.global_model.values())


def test_reason_codes_are_stable_u8() -> None:
    # docs/PROTOCOL.md's table: never renumber
    expected = {
        "ok": 0,
        "hash_mismatch": 1,
        "malformed": 2,
        "non_finite": 3,
        "shape": 4,
        "norm_bound": 5,
        "not_revealed": 6,
        "duplicate": 7,
        "trust": 64,
        "unexplained": 65,
        "norm_outlier": 66,
        "free_rider": 67,
        "robust_rule": 68,
    }
    assert {r.code: int(r) for r in Reason} == expected


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
