"""DP-SGD and privacy accounting: ε figures come from Opacus's accountants, a
round past the task's budget is refused before training, bad budgets are
named errors, and the declared clip bound stays an objective (slashable) check."""

from __future__ import annotations

import math

import numpy as np
import pytest

from client_kit.canonical import encode_tensors, tensors_hash
from client_kit.enums import Reason
from client_kit.training.accounting import (
    InvalidPrivacyBudget,
    InvalidPrivacyLedger,
    MechanismStep,
    PrivacyBudgetExhausted,
    PrivacyLedger,
    calibrate_noise,
    check_budget,
    epsilon_spent,
)
from client_kit.training.spec import mlp_spec
from client_kit.training.task import (
    DPSGDConfig,
    InvalidTaskPackage,
    TaskPackage,
    TrainingConfig,
    task_from_spec,
)
from client_kit.training.train import dp_sgd_plan, privacy_ledger, train_local
from offchain.aggregation import check_update_bytes
from offchain.judging import declared_norm_bound
from tests.agents import tiny_data

DELTA = 1e-5


def _task(dp: DPSGDConfig | None, clip_norm: float | None = None) -> TaskPackage:
    training = TrainingConfig(epochs=1, batch_size=16, lr=0.1, clip_norm=clip_norm, dp_sgd=dp)
    return TaskPackage.create("dp", "", mlp_spec(3, [], 2), training)


# --- the accountant ---------------------------------------------------------------------------


@pytest.mark.parametrize("accountant", ["rdp", "prv"])
def test_epsilon_is_the_opacus_accountants(accountant: str) -> None:
    # Given an Opacus accountant stepped by hand (its own API)
    from opacus.accountants import create_accountant

    oracle = create_accountant(accountant)
    for _ in range(20):
        oracle.step(noise_multiplier=1.1, sample_rate=0.05)
    # When fedstake composes the same history
    ours = epsilon_spent([MechanismStep(1.1, 0.05, 20)], DELTA, accountant)
    # Then the figure is the accountant's, not a formula of ours
    assert ours == pytest.approx(oracle.get_epsilon(delta=DELTA), rel=1e-9)
    assert 0 < ours < math.inf


def test_calibrated_noise_spends_at_most_the_budget() -> None:
    sigma = calibrate_noise(2.0, DELTA, 0.1, 50)
    spent = epsilon_spent([MechanismStep(sigma, 0.1, 50)], DELTA)
    assert 1.9 <= spent <= 2.0
    # and more noise spends less
    assert epsilon_spent([MechanismStep(2 * sigma, 0.1, 50)], DELTA) < spent


@pytest.mark.parametrize(
    ("epsilon", "delta", "accountant"),
    [
        (-1.0, DELTA, "rdp"),
        (0.0, DELTA, "rdp"),
        (math.inf, DELTA, "rdp"),
        (math.nan, DELTA, "rdp"),
        (True, DELTA, "rdp"),
        (1.0, 1.0, "rdp"),
        (1.0, 1.5, "rdp"),
        (1.0, 0.0, "rdp"),
        (1.0, -1e-5, "rdp"),
        (1.0, DELTA, "gdp-of-our-own"),
    ],
)
def test_bad_budgets_are_named_errors(epsilon, delta, accountant) -> None:
    with pytest.raises(InvalidPrivacyBudget):
        check_budget(epsilon, delta, accountant)
    with pytest.raises(InvalidPrivacyBudget):
        PrivacyLedger(epsilon, delta, accountant)
    with pytest.raises(InvalidPrivacyBudget):
        calibrate_noise(epsilon, delta, 0.1, 10, accountant)


@pytest.mark.parametrize(
    ("sigma", "q", "steps"),
    [
        (0.0, 0.1, 1),
        (-1.0, 0.1, 1),
        (math.inf, 0.1, 1),
        (1.0, 0.0, 1),
        (1.0, 1.5, 1),
        (1.0, 0.1, 0),
    ],
)
def test_bad_mechanism_steps_are_named_errors(sigma, q, steps) -> None:
    with pytest.raises(InvalidPrivacyBudget):
        MechanismStep(sigma, q, steps)


def test_ledger_refuses_a_round_past_the_budget_and_keeps_its_state(tmp_path) -> None:
    # Given a budget that two rounds of this mechanism fit in, and a third does not
    step = MechanismStep(1.0, 0.1, 10)
    one = epsilon_spent([step], DELTA)
    three = epsilon_spent([MechanismStep(1.0, 0.1, 30)], DELTA)
    ledger = PrivacyLedger((epsilon_spent([MechanismStep(1.0, 0.1, 20)], DELTA) + three) / 2, DELTA)
    assert ledger.charge(1, [step]) == pytest.approx(one)
    total = ledger.charge(2, [step])
    # When the third round is charged
    with pytest.raises(PrivacyBudgetExhausted) as refused:
        ledger.charge(3, [step])
    # Then it is refused with the figures, and nothing was recorded
    assert refused.value.spent == pytest.approx(total)
    assert refused.value.would_be == pytest.approx(three)
    assert sorted(ledger.rounds) == [1, 2]
    # re-charging a round replaces it (one update per round is released)
    assert ledger.charge(2, [step]) == pytest.approx(total)
    # and the ledger survives a restart
    path = tmp_path / "privacy.json"
    ledger.save(path)
    again = PrivacyLedger.load(path)
    assert again is not None and again.rounds == ledger.rounds and again.spent() == total
    assert PrivacyLedger.load(tmp_path / "none.json") is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[]",
        "{}",
        '{"budget": 1, "delta": 2, "accountant": "rdp", "rounds": {}}',
        '{"budget": 1, "delta": 0.1, "accountant": "rdp", "rounds": {"1": [[0, 0.1, 1]]}}',
        '{"budget": 1, "delta": 0.1, "accountant": "rdp", "rounds": {"x": []}}',
    ],
)
def test_a_damaged_ledger_is_a_named_error(tmp_path, text: str) -> None:
    path = tmp_path / "privacy.json"
    path.write_text(text)
    with pytest.raises(InvalidPrivacyLedger):
        PrivacyLedger.load(path)


# --- the task package -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"epsilon": -1.0},
        {"epsilon": 0.0},
        {"epsilon": math.inf},
        {"delta": 1.0},
        {"delta": 0.0},
        {"max_grad_norm": 0.0},
        {"max_grad_norm": -2.0},
        {"rounds": 0},
        {"rounds": 1.5},
        {"accountant": "moments"},
    ],
)
def test_bad_dp_sgd_configs_are_named_errors(fields) -> None:
    good = {"epsilon": 1.0, "delta": DELTA, "max_grad_norm": 1.0, "rounds": 2, "accountant": "rdp"}
    with pytest.raises(InvalidTaskPackage) as refused:
        DPSGDConfig(**{**good, **fields})
    assert refused.value.reason == "training"


def test_dp_sgd_travels_in_the_task_package_and_old_packages_keep_their_bytes() -> None:
    dp = DPSGDConfig(epsilon=3.0, delta=DELTA, max_grad_norm=0.5, rounds=4, accountant="prv")
    task = _task(dp)
    assert TaskPackage.from_bytes(task.to_bytes()).training.dp_sgd == dp
    plain = _task(None)
    assert b"dp_sgd" not in plain.to_bytes()
    assert TaskPackage.from_bytes(plain.to_bytes()) == plain
    # the declarative spec fills rounds and accountant
    spec = task_from_spec(
        {
            "name": "d",
            "model": {"mlp": {"input": 3, "classes": 2}},
            "training": {"dp_sgd": {"epsilon": 1, "delta": DELTA, "max_grad_norm": 1}},
        }
    )
    assert spec.training.dp_sgd == DPSGDConfig(1.0, DELTA, 1.0, 1, "rdp")
    with pytest.raises(InvalidTaskPackage):
        task_from_spec(
            {
                "name": "d",
                "model": {"mlp": {"input": 3, "classes": 2}},
                "training": {"dp_sgd": {"epsilon": -1, "delta": DELTA, "max_grad_norm": 1}},
            }
        )


# --- training ---------------------------------------------------------------------------------


def test_dp_sgd_training_reports_the_accountants_epsilon() -> None:
    # Given a task whose budget ε = 2 is planned over 2 rounds
    task = _task(DPSGDConfig(epsilon=2.0, delta=DELTA, max_grad_norm=1.0, rounds=2))
    data = tiny_data(1, 64)
    weights = task.initial_tensors()
    ledger = privacy_ledger(task)
    # When round 1 trains
    first = train_local(task, weights, data, seed=1, round=1, ledger=ledger, noise_seed=7)
    # Then the steps are those the plan announced and ε is the accountant's
    q, steps, sigma = dp_sgd_plan(task, 64)
    report = first.dp_sgd
    assert report is not None and report.noise_multiplier == sigma
    assert sum(s.steps for s in report.steps) == steps == first.steps
    assert all(s.sample_rate == q for s in report.steps)
    assert report.epsilon_round == pytest.approx(epsilon_spent(report.steps, DELTA))
    assert report.epsilon_total == report.epsilon_round < 2.0
    # the same noise seed gives the same update, another seed another one
    again = train_local(task, weights, data, seed=1, round=1, noise_seed=7)
    other = train_local(task, weights, data, seed=1, round=1, noise_seed=8)
    assert tensors_hash(again.update) == tensors_hash(first.update)
    assert tensors_hash(other.update) != tensors_hash(first.update)
    # round 2 brings the total to at most the budget, round 3 is refused untrained
    second = train_local(task, weights, data, seed=2, round=2, ledger=ledger, noise_seed=8)
    assert second.dp_sgd is not None
    assert report.epsilon_round < second.dp_sgd.epsilon_total <= 2.0
    epochs_run: list[int] = []
    with pytest.raises(PrivacyBudgetExhausted):
        train_local(
            task,
            weights,
            data,
            seed=3,
            round=3,
            ledger=ledger,
            progress=lambda done, total, loss: epochs_run.append(done),
        )
    assert epochs_run == [] and sorted(ledger.rounds) == [1, 2]


def test_the_declared_clip_bound_is_an_objective_check_with_dp_sgd() -> None:
    # Given a DP-SGD task that also clips the whole update to 0.05 (post-processing)
    task = _task(DPSGDConfig(epsilon=5.0, delta=DELTA, max_grad_norm=1.0), clip_norm=0.05)
    bound = declared_norm_bound(task)
    assert bound == 0.05
    base = task.initial_tensors()
    honest = train_local(task, base, tiny_data(2, 64), seed=1, noise_seed=3).update
    data = encode_tensors(honest)
    # When the operator (or anyone) checks the honest update and one over the bound
    ok = check_update_bytes(data, tensors_hash(honest), base, 64, bound)
    over = {name: (t * 3).astype(np.float32) for name, t in honest.items()}
    over_data = encode_tensors(over)
    slashed = check_update_bytes(over_data, tensors_hash(over), base, 64, bound)
    # Then the honest one passes and the other is slashable as `norm_bound`
    assert ok.passed
    assert slashed.reason is Reason.NORM_BOUND
