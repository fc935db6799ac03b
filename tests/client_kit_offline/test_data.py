"""Local datasets: loading, validation against the spec, and the digits federation."""

from __future__ import annotations

import numpy as np
import pytest

from client_kit.training.data import (
    InvalidDataset,
    digits_mlp_spec,
    digits_shards,
    load_dataset,
    validate_dataset,
)
from client_kit.training.spec import ModelSpec

SPEC = digits_mlp_spec()


def test_npz_round_trip(tmp_path):
    x = np.random.default_rng(0).random((5, 64))
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(5))
    data = load_dataset(tmp_path / "d.npz", SPEC)
    assert data.x.dtype == np.float32 and data.x.shape == (5, 64)
    assert data.y.tolist() == [0, 1, 2, 3, 4]


def test_csv_with_header_and_float_labels(tmp_path):
    rows = [",".join(f"f{i}" for i in range(64)) + ",label"]
    rows += [",".join(["0.5"] * 64) + f",{label}.0" for label in (3, 7)]
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    data = load_dataset(tmp_path / "d.csv", SPEC)
    assert data.y.tolist() == [3, 7]


def test_flat_rows_are_reshaped_for_image_specs():
    spec = ModelSpec.from_dict(
        {
            "input_shape": [1, 8, 8],
            "num_classes": 10,
            "layers": [{"type": "flatten"}, {"type": "dense", "params": {"units": 10}}],
        }
    )
    data = validate_dataset(np.zeros((2, 64)), np.array([0, 1]), spec)
    assert data.x.shape == (2, 1, 8, 8)


@pytest.mark.parametrize(
    ("x", "y", "reason"),
    [
        (np.zeros((3, 63)), np.zeros(3), "shape"),
        (np.zeros((3, 64)), np.zeros(2), "length"),
        (np.zeros((3, 64)), np.array([0, 1, 10]), "labels"),
        (np.zeros((3, 64)), np.array([0, -1, 2]), "labels"),
        (np.zeros((3, 64)), np.array([0.5, 1, 2]), "labels"),
        (np.full((3, 64), np.nan), np.zeros(3), "values"),
        (np.zeros((0, 64)), np.zeros(0), "empty"),
        (np.array([["a"] * 64]), np.zeros(1), "dtype"),
    ],
)
def test_invalid_arrays_are_named(x, y, reason):
    with pytest.raises(InvalidDataset) as raised:
        validate_dataset(x, y, SPEC)
    assert raised.value.reason == reason


def test_missing_file(tmp_path):
    with pytest.raises(InvalidDataset) as raised:
        load_dataset(tmp_path / "nope.npz", SPEC)
    assert raised.value.reason == "missing"


def test_unknown_format(tmp_path):
    (tmp_path / "d.parquet").write_bytes(b"PAR1")
    with pytest.raises(InvalidDataset) as raised:
        load_dataset(tmp_path / "d.parquet", SPEC)
    assert raised.value.reason == "format"


def test_npz_without_the_right_keys(tmp_path):
    np.savez(tmp_path / "d.npz", features=np.zeros((2, 64)), y=np.zeros(2))
    with pytest.raises(InvalidDataset) as raised:
        load_dataset(tmp_path / "d.npz", SPEC)
    assert raised.value.reason == "keys"


def test_npz_with_pickled_objects_is_refused(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.array([object()] * 2, dtype=object), y=np.zeros(2))
    with pytest.raises(InvalidDataset) as raised:
        load_dataset(tmp_path / "d.npz", SPEC)
    assert raised.value.reason == "format"


def test_corrupt_npz(tmp_path):
    (tmp_path / "d.npz").write_bytes(b"not a zip")
    with pytest.raises(InvalidDataset):
        load_dataset(tmp_path / "d.npz", SPEC)


def test_csv_with_text_values(tmp_path):
    (tmp_path / "d.csv").write_text("a,b\nc,d\nx,1\n")
    with pytest.raises(InvalidDataset) as raised:
        load_dataset(tmp_path / "d.csv", SPEC)
    assert raised.value.reason == "format"


def test_digits_shards_cover_the_training_split_once(tmp_path):
    federation = digits_shards(5, alpha=0.3, seed=4, out_dir=tmp_path)
    sizes = [len(s) for s in federation.shards]
    assert sum(sizes) + len(federation.test) == 1797
    assert min(sizes) >= 10
    assert [p.name for p in federation.paths] == [f"shard_{i}.npz" for i in range(5)]
    assert (tmp_path / "test.npz").is_file()
    reloaded = load_dataset(federation.paths[2], SPEC)
    assert np.array_equal(reloaded.y, federation.shards[2].y)


def test_digits_shards_are_non_iid_for_small_alpha_and_deterministic():
    skewed = digits_shards(4, alpha=0.1, seed=2)
    again = digits_shards(4, alpha=0.1, seed=2)
    assert all(np.array_equal(a.y, b.y) for a, b in zip(skewed.shards, again.shards, strict=True))
    # with alpha=0.1 a typical shard is dominated by a few classes
    top_share = [np.sort(s.class_counts(10))[-2:].sum() / len(s) for s in skewed.shards]
    assert np.mean(top_share) > 0.5
    # the held-out test split is stratified: every class present
    assert (skewed.test.class_counts(10) > 0).all()
