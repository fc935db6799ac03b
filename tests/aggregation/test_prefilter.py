"""The shared pre-filter names every kind of invalid update."""

from __future__ import annotations

import numpy as np
import pytest

from client_kit.enums import Reason, ReasonKind
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
    ("samples", {**good(1)}, 0),
    ("samples", {**good(1)}, -5),
    ("shape", {"w": np.zeros((3, 2), np.float32), "b": good(2)["b"]}, 10),
    ("shape", {"w": good(2)["w"]}, 10),
    ("shape", {**good(2), "extra": np.zeros(1, np.float32)}, 10),
    ("dtype", {"w": good(3)["w"].astype(np.float64), "b": good(3)["b"]}, 10),
    ("nan", with_nan(), 10),
    ("nan", with_inf(), 10),
    ("free_rider", {n: np.zeros_like(v) for n, v in BASE.items()}, 10),
    ("free_rider", {n: v * 1e-4 for n, v in good(4).items()}, 10),
    ("norm", {n: v * 100 for n, v in good(5).items()}, 10),
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
    expected = {
        "ok": 0,
        "hash": 1,
        "malformed": 2,
        "shape": 3,
        "dtype": 4,
        "nan": 5,
        "samples": 6,
        "norm": 64,
        "free_rider": 65,
        "krum": 66,
        "trust": 67,
        "outlier": 68,
        "unexplained": 69,
    }
    assert {r.code: int(r) for r in Reason} == expected


def test_reason_classes_follow_the_code_ranges() -> None:
    # 1..63 objective (slashable), 64..127 statistical (exclude), 128.. reserved
    objective = {Reason.HASH, Reason.MALFORMED, Reason.SHAPE, Reason.DTYPE, Reason.NAN}
    assert {r for r in Reason if r.kind is ReasonKind.OBJECTIVE} == objective | {Reason.SAMPLES}
    assert Reason.OK.kind is ReasonKind.OK
    assert all(r.kind is ReasonKind.STATISTICAL for r in Reason if 64 <= r < 128)
    # codes no member names still decode (a newer or foreign aggregator's)
    assert Reason(100).kind is ReasonKind.STATISTICAL and Reason(100).name == "CODE_100"
    assert Reason(200).kind is ReasonKind.RESERVED
    assert Reason(7).kind is ReasonKind.OBJECTIVE
