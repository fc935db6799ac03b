"""Basis points and reward split: exact integers the program can repeat."""

from __future__ import annotations

import pytest

from offchain.aggregation import split_reward, to_bps


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
