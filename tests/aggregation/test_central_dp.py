"""Central DP for FedAvg: clipped, equally weighted mean plus Gaussian noise of
std σC/n, with ε from Opacus's accountant; bad parameters are named errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from client_kit.training.accounting import MechanismStep, epsilon_spent
from client_kit.training.privacy import update_norm
from offchain.aggregation.central_dp import CentralDP, noised_mean
from offchain.errors import InvalidRule


def _updates() -> list[dict[str, np.ndarray]]:
    return [
        {"w": np.array([3.0, 4.0], np.float32)},  # norm 5: clipped to 1
        {"w": np.array([0.3, 0.4], np.float32)},  # norm 0.5: kept
    ]


def test_the_aggregate_is_the_clipped_mean_plus_noise_of_std_sigma_c_over_n() -> None:
    dp = CentralDP(clip=1.0, noise_multiplier=2.0, delta=1e-5)
    # the noise is exactly what the generator draws, scaled by σC/n
    out = noised_mean(_updates(), dp, 3, np.random.default_rng(5))
    draw = np.random.default_rng(5).standard_normal(2) * (2.0 * 1.0 / 2)
    clipped_mean = (np.array([0.6, 0.8]) + np.array([0.3, 0.4])) / 2
    np.testing.assert_allclose(out.delta["w"], clipped_mean + draw, rtol=1e-6)
    assert out.clipped == 1 and out.noise_std == 1.0
    # ε of one round and of three rounds are the accountant's (sample rate 1)
    assert out.epsilon_round == pytest.approx(epsilon_spent([MechanismStep(2.0, 1.0, 1)], 1e-5))
    assert out.epsilon_total == pytest.approx(epsilon_spent([MechanismStep(2.0, 1.0, 3)], 1e-5))
    assert out.epsilon_round < out.epsilon_total


def test_one_participant_moves_the_noiseless_mean_by_at_most_c_over_n() -> None:
    dp = CentralDP(clip=1.0, noise_multiplier=1.0)
    zero = np.random.default_rng(0)
    base = noised_mean(_updates(), dp, 1, zero)
    huge = [{"w": np.array([1e6, -1e6], np.float32)}, _updates()[1]]
    moved = noised_mean(huge, dp, 1, np.random.default_rng(0))  # same noise
    assert update_norm({"d": moved.delta["w"] - base.delta["w"]}) <= 2 * 1.0 / 2 + 1e-6


@pytest.mark.parametrize(
    "params",
    [
        {"clip": 0.0},
        {"clip": -1.0},
        {"clip": math.inf},
        {"noise_multiplier": 0.0},
        {"noise_multiplier": math.nan},
        {"noise_multiplier": True},
        {"delta": 1.0},
        {"delta": 0.0},
        {"delta": "1e-5"},
    ],
)
def test_bad_parameters_are_named_errors(params) -> None:
    with pytest.raises(InvalidRule):
        CentralDP(**{"clip": 1.0, "noise_multiplier": 1.0, **params})


def test_bad_calls_are_named_errors() -> None:
    dp = CentralDP(1.0, 1.0)
    with pytest.raises(InvalidRule):
        noised_mean([], dp, 1, np.random.default_rng(0))
    with pytest.raises(InvalidRule):
        noised_mean(_updates(), dp, 0, np.random.default_rng(0))
    with pytest.raises(InvalidRule):
        dp.epsilon(-1)
    assert dp.epsilon(0) == 0.0
