"""Local training on digits: it learns, it is reproducible, and privacy bounds the update."""

from __future__ import annotations

import numpy as np
import pytest

from client_kit.canonical import decode_tensors, tensors_hash
from client_kit.training.data import Dataset, InvalidDataset, digits_mlp_spec, digits_shards
from client_kit.training.privacy import (
    InvalidPrivacyConfig,
    clip_update,
    privatize_update,
    update_norm,
)
from client_kit.training.spec import IncompatibleWeights
from client_kit.training.task import TaskPackage, TrainingConfig
from client_kit.training.train import apply_update, evaluate, train_local


@pytest.fixture(scope="module")
def federation():
    return digits_shards(3, alpha=1.0, seed=0)


def make_task(**training) -> TaskPackage:
    config = {"epochs": 3, "batch_size": 32, "lr": 0.1, "optimizer": "sgd", "momentum": 0.9}
    return TaskPackage.create(
        "digits", "", digits_mlp_spec(), TrainingConfig(**{**config, **training}), seed=0
    )


def test_training_reduces_loss_and_improves_test_accuracy(federation):
    task = make_task()
    weights = task.initial_tensors()
    epochs: list[tuple[int, int, float]] = []
    result = train_local(
        task, weights, federation.shards[0], seed=1, progress=lambda *e: epochs.append(e)
    )
    assert result.train_loss < 0.5 * result.initial_loss
    assert result.train_accuracy > 0.8
    assert result.num_samples == len(federation.shards[0])
    assert [e[:2] for e in epochs] == [(1, 3), (2, 3), (3, 3)]
    test = federation.test
    before = evaluate(task.model, weights, test.x, test.y)
    after = evaluate(task.model, apply_update(weights, result.update), test.x, test.y)
    assert after > before + 0.3


def test_update_is_a_delta_from_the_global_weights(federation):
    task = make_task(epochs=1)
    weights = task.initial_tensors()
    result = train_local(task, weights, federation.shards[1], seed=1)
    assert set(result.update) == set(weights)
    assert all(result.update[k].dtype == np.float32 for k in weights)
    assert update_norm(result.update) > 0
    assert decode_tensors(result.update_bytes()).keys() == weights.keys()
    assert result.base_model_hash == tensors_hash(weights)


def test_data_can_be_a_file_path(federation, tmp_path):
    task = make_task(epochs=1)
    path = tmp_path / "mine.npz"
    np.savez(path, x=federation.shards[1].x, y=federation.shards[1].y)
    from_file = train_local(task, task.initial_tensors(), path, seed=5)
    in_memory = train_local(task, task.initial_tensors(), federation.shards[1], seed=5)
    assert from_file.update_hash() == in_memory.update_hash()


def test_same_seed_gives_a_byte_identical_update(federation):
    task = make_task(optimizer="adam", lr=0.01)
    weights = task.initial_tensors()
    first = train_local(task, weights, federation.shards[2], seed=42)
    second = train_local(task, weights, federation.shards[2], seed=42)
    other = train_local(task, weights, federation.shards[2], seed=43)
    assert first.update_bytes() == second.update_bytes()
    assert first.update_hash() == tensors_hash(second.update)
    assert other.update_hash() != first.update_hash()


def test_training_leaves_the_callers_torch_rng_alone(federation):
    import torch

    task = make_task(epochs=1)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train_local(task, task.initial_tensors(), federation.shards[0], seed=9)
    assert torch.equal(torch.rand(3), expected)


def test_global_weights_for_another_model_are_refused(federation):
    task = make_task()
    other = TaskPackage.create("x", "", digits_mlp_spec(hidden=4), TrainingConfig(), seed=0)
    with pytest.raises(IncompatibleWeights):
        train_local(task, other.initial_tensors(), federation.shards[0], seed=0)


def test_our_optimizer_steps_match_torch_optim():
    import torch

    from client_kit.training.train import Optimizer

    for kind, options in [
        ("sgd", {"momentum": 0.9, "weight_decay": 0.01}),
        ("adam", {"weight_decay": 0.01}),
    ]:
        torch.manual_seed(0)
        ours_model, ref_model = torch.nn.Linear(5, 3), torch.nn.Linear(5, 3)
        ref_model.load_state_dict(ours_model.state_dict())
        ours = Optimizer(kind, ours_model.parameters(), lr=0.05, **options)
        ref_class = torch.optim.SGD if kind == "sgd" else torch.optim.Adam
        ref = ref_class(ref_model.parameters(), lr=0.05, **options)
        x, y = torch.randn(20, 5), torch.randint(0, 3, (20,))
        for _ in range(5):
            for model, optimizer in ((ours_model, ours), (ref_model, ref)):
                optimizer.zero_grad()
                torch.nn.functional.cross_entropy(model(x), y).backward()
                optimizer.step()
        for mine, theirs in zip(ours_model.parameters(), ref_model.parameters(), strict=True):
            assert torch.allclose(mine, theirs, atol=1e-6), kind


# --- privacy --------------------------------------------------------------------------------------


def big_update() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"a": rng.normal(size=(30, 20)).astype(np.float32), "b": np.full(7, 3, np.float32)}


def test_clipping_bounds_the_norm_and_keeps_the_direction():
    update = big_update()
    clipped, before = clip_update(update, 1.0)
    assert before > 1.0
    assert update_norm(clipped) == pytest.approx(1.0, rel=1e-5)
    ratio = clipped["a"] / update["a"]
    assert np.allclose(ratio, ratio.flat[0])


def test_small_updates_are_not_scaled():
    update = {"a": np.full(4, 0.1, np.float32)}
    clipped, _ = clip_update(update, 10.0)
    assert np.array_equal(clipped["a"], update["a"])


def test_noise_has_the_reported_scale_and_is_seeded():
    update = {"a": np.zeros(200_000, np.float32)}
    noisy, report = privatize_update(update, clip_norm=2.0, noise_multiplier=0.5, seed=3)
    again, _ = privatize_update(update, clip_norm=2.0, noise_multiplier=0.5, seed=3)
    assert report.noise_std == 1.0
    assert float(noisy["a"].std()) == pytest.approx(1.0, rel=0.02)
    assert np.array_equal(noisy["a"], again["a"])


def test_task_privacy_settings_are_applied_and_reported(federation):
    task = make_task(clip_norm=0.5)
    result = train_local(task, task.initial_tensors(), federation.shards[0], seed=1)
    assert result.privacy is not None and result.privacy.clipped
    assert result.privacy.norm_before > 0.5
    assert update_norm(result.update) <= 0.5 * (1 + 1e-5)


@pytest.mark.parametrize(
    ("clip", "noise"), [(0.0, 0.0), (-1.0, 0.0), (float("nan"), 0.0), (1.0, -0.1)]
)
def test_invalid_privacy_parameters(clip, noise):
    with pytest.raises(InvalidPrivacyConfig):
        privatize_update(big_update(), clip_norm=clip, noise_multiplier=noise)


def test_a_dataset_object_is_revalidated_against_the_task(federation):
    task = make_task()
    bad = Dataset(federation.shards[0].x[:, :10], federation.shards[0].y)
    with pytest.raises(InvalidDataset):
        train_local(task, task.initial_tensors(), bad, seed=0)
