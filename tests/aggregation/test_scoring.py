"""Basis points, reward split and reward policies: exact integers the program can repeat."""

from __future__ import annotations

import math

import numpy as np
import pytest

from offchain.aggregation import UpdateInput, make_rule, quantize_loss, split_reward, to_bps
from offchain.aggregation.contribution import LOSS_CAP


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ([1.0, 1.0], [5000, 5000]),
        ([1.0, 1.0, 1.0], [3334, 3333, 3333]),  # leftover point to the smallest key
        ([0.0, 2.0, 0.0], [0, 10000, 0]),
        ([1.0, 0.0, -3.0], [10000, 0, 0]),
        ([0.0, 0.0], [0, 0]),
        ([2.0, 1.0], [6667, 3333]),
        ([1.0] * 7, [1429, 1429, 1429, 1429, 1428, 1428, 1428]),
    ],
)
def test_to_bps_largest_remainder(weights: list[float], expected: list[int]) -> None:
    points = to_bps(weights)
    assert points == expected
    assert sum(points) in (0, 10_000)


@pytest.mark.parametrize(
    ("reward", "scores", "expected"),
    [
        (1_000, {"a": 5000, "b": 5000}, {"a": 500, "b": 500}),
        (1_000, {"a": 3334, "b": 3333, "c": 3333}, {"a": 333, "b": 333, "c": 333}),
        (7, {"a": 10_000, "b": 0}, {"a": 7, "b": 0}),
        (10**18, {"a": 1, "b": 9999}, {"a": 10**14, "b": 9999 * 10**14}),
        (1_000, {"a": 0, "b": 0}, {"a": 0, "b": 0}),
    ],
)
def test_split_reward_floors_pro_rata(reward: int, scores: dict[str, int], expected: dict) -> None:
    paid = split_reward(reward, scores)
    assert paid == expected
    assert sum(paid.values()) <= reward


# --- reward policies -------------------------------------------------------------------------

BASE = {"w": np.zeros(8, np.float32)}
TARGET = np.linspace(-1.0, 1.0, 8)


def distance_to_target(model: dict[str, np.ndarray]) -> float:
    """A validation loss: squared distance to a known good model (exact, order-free)."""
    return math.fsum(((model["w"].astype(np.float64) - TARGET) ** 2).tolist())


def toward_target(seed: int, step: float = 0.2) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"w": (step * TARGET + 0.02 * rng.standard_normal(8)).astype(np.float32)}


def policy_round() -> list[UpdateInput]:
    helpful = [UpdateInput(f"h{i}", toward_target(i), 10 + i) for i in range(4)]
    weak = UpdateInput("weak", toward_target(9, step=0.02), 10)
    return [*helpful, weak]


def test_equal_policy_splits_10000_among_accepted_with_ties_to_smaller_keys() -> None:
    updates = [*policy_round(), UpdateInput("z_nan", {"w": np.full(8, np.nan, np.float32)}, 1)]
    result = make_rule("fedavg", reward_policy="equal").aggregate(BASE, updates)
    scores = [v.score_bps for v in result.verdicts]
    assert scores == [2000, 2000, 2000, 2000, 2000, 0]
    three = make_rule("fedavg").aggregate(BASE, policy_round()[:3])
    assert [v.score_bps for v in three.verdicts] == [3334, 3333, 3333]


REFERENCE = {"w": (0.2 * TARGET).astype(np.float32)}
LOO = {"reward_policy": "contribution", "contribution": "loo"}


def test_contribution_policy_pays_by_alignment_with_the_reference() -> None:
    # Given four useful updates, one that barely moves the model, and one opposed to the target
    opposed = UpdateInput("opposed", {"w": (-0.1 * TARGET).astype(np.float32)}, 10)
    updates = [*policy_round(), opposed]
    # When scored by the default contribution measure
    result = make_rule("fedavg", reward_policy="contribution").aggregate(
        BASE, updates, reference=REFERENCE
    )
    # Then each accepted update earns in proportion to max(0, cos(update, reference))
    ref = REFERENCE["w"].astype(np.float64)
    cosines = {
        u.key: float(u.tensors["w"] @ ref)
        / float(np.linalg.norm(u.tensors["w"]) * np.linalg.norm(ref))
        for u in updates
    }
    contributions = result.details["contributions"]
    for key, value in contributions.items():
        assert value == pytest.approx(max(cosines[key], 0.0), abs=1e-4)
    assert [v.score_bps for v in result.verdicts] == to_bps(list(contributions.values()))
    assert result.verdict("opposed").accepted and result.verdict("opposed").score_bps == 0


def test_a_longer_update_earns_no_more_than_a_shorter_one_in_the_same_direction() -> None:
    short = UpdateInput("a", toward_target(1), 10)
    long = UpdateInput("b", {"w": toward_target(1)["w"] * np.float32(3.0)}, 10)
    result = make_rule("fedavg", reward_policy="contribution").aggregate(
        BASE, [short, long], reference=REFERENCE
    )
    assert [v.score_bps for v in result.verdicts] == [5000, 5000]


def test_loo_contribution_pays_by_leave_one_out_value() -> None:
    # Given four useful updates and one that barely moves the model
    rule = make_rule("fedavg", **LOO)
    # When scored by leave-one-out of the validation loss
    result = rule.aggregate(BASE, policy_round(), validation=distance_to_target)
    scores = {v.key: v.score_bps for v in result.verdicts}
    # Then the scores follow the (clipped) leave-one-out values and sum to 10,000
    contributions = result.details["contributions"]
    assert sum(scores.values()) == 10_000
    assert scores["weak"] < min(scores[f"h{i}"] for i in range(4))
    assert scores == dict(zip(contributions, to_bps(list(contributions.values())), strict=True))
    # And each value is the loss without the update minus the loss with all of them
    accepted = policy_round()
    mean = np.mean([u.tensors["w"].astype(np.float64) for u in accepted], axis=0)
    for u in accepted:
        without = (mean * 5 - u.tensors["w"]) / 4
        expected = distance_to_target({"w": without}) - distance_to_target({"w": mean})
        assert contributions[u.key] == pytest.approx(max(expected, 0.0), abs=1e-6)


def test_a_harmful_accepted_update_is_clipped_to_zero_by_loo() -> None:
    # Given an accepted update that points away from the validation target
    harmful = UpdateInput("harm", {"w": (-0.1 * TARGET).astype(np.float32)}, 10)
    result = make_rule("fedavg", **LOO).aggregate(
        BASE, [*policy_round(), harmful], validation=distance_to_target
    )
    # Then it is accepted (FedAvg accepts all) but earns nothing
    verdict = result.verdict("harm")
    assert verdict.accepted and verdict.score_bps == 0


@pytest.mark.parametrize("measure", ["reference", "loo"])
def test_claims_never_change_contribution_scores(measure: str) -> None:
    # Given the same round with one participant claiming 1000× more samples
    rule = make_rule("fedavg", reward_policy="contribution", contribution=measure)
    inputs = {"reference": REFERENCE, "validation": distance_to_target}
    honest = rule.aggregate(BASE, policy_round(), **inputs)
    lying = [UpdateInput(u.key, u.tensors, u.num_samples * 1000) for u in policy_round()[:1]]
    inflated = rule.aggregate(BASE, [*lying, *policy_round()[1:]], **inputs)
    # Then every score is the same (only the capped model weight can change)
    assert [v.score_bps for v in honest.verdicts] == [v.score_bps for v in inflated.verdicts]


@pytest.mark.parametrize("measure", ["reference", "loo"])
def test_contribution_scores_are_deterministic_across_workers_and_order(measure: str) -> None:
    def scores(workers: int, reverse: bool) -> list[tuple[str, str, int]]:
        rule = make_rule(
            "trusted_mean", reward_policy="contribution", contribution=measure, workers=workers
        )
        result = rule.aggregate(
            BASE,
            policy_round()[::-1] if reverse else policy_round(),
            reference=REFERENCE,
            validation=distance_to_target,
        )
        return [(v.key, v.reason, v.score_bps) for v in result.verdicts]

    assert scores(1, False) == scores(2, False) == scores(2, True)


def test_contribution_policy_without_its_input_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="reference"):
        make_rule("fedavg", reward_policy="contribution").aggregate(BASE, policy_round())
    with pytest.raises(ValueError, match="validation"):
        make_rule("fedavg", **LOO).aggregate(BASE, policy_round())


@pytest.mark.parametrize(
    ("param", "value"),
    [("reward_policy", "bogus"), ("reward_policy", 7), ("contribution", "shapley")],
)
def test_unknown_reward_policy_or_measure_is_refused(param: str, value: object) -> None:
    with pytest.raises(ValueError):
        make_rule("fedavg", **{param: value})


@pytest.mark.parametrize(
    ("loss", "expected"),
    [
        (0.5, 0.5),
        (1.0 + 2.0**-31, 1.0),  # below half a grid step: rounded away
        (1.0 + 2.0**-29, 1.0 + 2.0**-29),
        (float("nan"), LOSS_CAP),
        (float("inf"), LOSS_CAP),
        (1e300, LOSS_CAP),
    ],
)
def test_losses_are_quantized_to_the_grid(loss: float, expected: float) -> None:
    assert quantize_loss(loss) == expected
