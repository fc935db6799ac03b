"""Task packages: one canonical byte string, holding no code, rejected when malformed."""

from __future__ import annotations

import hashlib
import json
import struct

import numpy as np
import pytest

from client_kit.canonical import encode_tensors
from client_kit.training.data import digits_mlp_spec
from client_kit.training.spec import InvalidModelSpec, initial_weights
from client_kit.training.task import (
    AGGREGATION_RULES,
    DEFAULT_RULE,
    MAGIC,
    AggregationSpec,
    InvalidTaskPackage,
    TaskPackage,
    TrainingConfig,
    task_from_spec,
)


@pytest.fixture(scope="module")
def package() -> TaskPackage:
    return TaskPackage.create(
        "digits",
        "Handwritten digits, 8x8.",
        digits_mlp_spec(hidden=8),
        TrainingConfig(epochs=2, batch_size=16, lr=0.05, optimizer="adam", clip_norm=5.0),
        seed=1,
    )


def split(blob: bytes) -> tuple[dict, bytes]:
    (length,) = struct.unpack_from("<I", blob, len(MAGIC) + 1)
    start = len(MAGIC) + 5
    return json.loads(blob[start : start + length]), blob[start + length :]


def join(header: dict, weights: bytes, *, canonical: bool = True) -> bytes:
    if canonical:
        text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    else:
        text = json.dumps(header, indent=1).encode()
    return MAGIC + struct.pack("<BI", 1, len(text)) + text + weights


def test_round_trip_is_byte_identical(package):
    blob = package.to_bytes()
    again = TaskPackage.from_bytes(blob)
    assert again == package
    assert again.to_bytes() == blob


def test_initial_weights_hash_is_sha256_of_canonical_weights(package):
    assert package.initial_weights_hash == hashlib.sha256(package.initial_weights).digest()
    header, weights = split(package.to_bytes())
    assert header["weights_sha256"] == hashlib.sha256(weights).hexdigest()


def test_header_is_plain_data(package):
    header, _ = split(package.to_bytes())
    assert set(header) == {
        "name",
        "description",
        "model",
        "training",
        "aggregation",
        "weights_sha256",
    }
    assert header["training"]["optimizer"] == "adam"
    assert header["aggregation"] == {"rule": "trusted_mean", "params": {}}


@pytest.mark.parametrize(
    "blob",
    [b"", b"FSTASK", b"PK\x03\x04 not a task", MAGIC + struct.pack("<BI", 9, 0)],
)
def test_garbage_is_rejected(blob):
    with pytest.raises(InvalidTaskPackage):
        TaskPackage.from_bytes(blob)


def test_truncated_bytes_are_rejected(package):
    blob = package.to_bytes()
    for cut in (10, len(blob) // 2, len(blob) - 1):
        with pytest.raises(InvalidTaskPackage):
            TaskPackage.from_bytes(blob[:cut])


def test_tampered_weights_are_rejected(package):
    blob = bytearray(package.to_bytes())
    blob[-1] ^= 0xFF
    with pytest.raises(InvalidTaskPackage) as raised:
        TaskPackage.from_bytes(bytes(blob))
    assert raised.value.reason == "weights"


def test_non_canonical_header_is_rejected(package):
    header, weights = split(package.to_bytes())
    with pytest.raises(InvalidTaskPackage) as raised:
        TaskPackage.from_bytes(join(header, weights, canonical=False))
    assert raised.value.reason == "header"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda h: h.update(code="import os"), "header"),
        (lambda h: h.pop("description"), "header"),
        (lambda h: h["training"].update(optimizer="lbfgs"), "training"),
        (lambda h: h["training"].update(epochs=0), "training"),
        (lambda h: h["training"].update(lr="fast"), "training"),
        (lambda h: h["training"].update(clip_norm=None, noise_multiplier=1.0), "training"),
        (lambda h: h["model"]["layers"][0]["params"].update(units=9), "weights"),
        (lambda h: h["model"].update(num_classes=1), "model"),
        (lambda h: h.update(name=""), "name"),
        (lambda h: h.pop("aggregation"), "header"),
        (lambda h: h["aggregation"].update(rule="best_rule"), "aggregation"),
        (lambda h: h["aggregation"].update(params={"Bad Name": 1}), "aggregation"),
        (lambda h: h["aggregation"].update(params={"beta": [0.1]}), "aggregation"),
        (lambda h: h["aggregation"].update(extra=1), "aggregation"),
    ],
)
def test_invalid_fields_are_rejected(package, change, reason):
    header, weights = split(package.to_bytes())
    change(header)
    with pytest.raises(InvalidTaskPackage) as raised:
        TaskPackage.from_bytes(join(header, weights))
    assert raised.value.reason == reason


def test_weights_must_fit_the_spec():
    spec = digits_mlp_spec(hidden=8)
    weights = initial_weights(spec)
    weights["layers.0.bias"] = np.zeros(3, np.float32)
    with pytest.raises(InvalidTaskPackage):
        TaskPackage("t", "", spec, TrainingConfig(), encode_tensors(weights))


def test_nan_in_the_header_is_rejected(package):
    header, weights = split(package.to_bytes())
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).replace(
        '"lr":0.05', '"lr":NaN'
    )
    raw = text.encode()
    with pytest.raises(InvalidTaskPackage):
        TaskPackage.from_bytes(MAGIC + struct.pack("<BI", 1, len(raw)) + raw + weights)


def test_aggregation_rule_and_parameters_round_trip():
    package = TaskPackage.create(
        "t",
        "",
        digits_mlp_spec(hidden=4),
        TrainingConfig(),
        aggregation=AggregationSpec("multikrum", {"keep": 3, "byzantine_fraction": 0.25}),
    )
    again = TaskPackage.from_bytes(package.to_bytes())
    assert again.aggregation == AggregationSpec(
        "multikrum", {"byzantine_fraction": 0.25, "keep": 3}
    )


def test_the_rule_names_are_the_operators():
    from offchain.aggregation import DEFAULT_RULE as OPERATOR_DEFAULT
    from offchain.aggregation import RULES

    assert sorted(RULES) == sorted(AGGREGATION_RULES)
    assert DEFAULT_RULE == OPERATOR_DEFAULT


def test_a_spec_makes_the_same_package_as_code():
    spec = {
        "name": "digits",
        "description": "d",
        "model": {"mlp": {"input": 64, "hidden": [8], "classes": 10}},
        "training": {"epochs": 2, "lr": 0.05},
        "aggregation": {"rule": "median", "params": {"min_cos": 0.1}},
        "seed": 4,
    }
    made = task_from_spec(spec)
    assert made == TaskPackage.create(
        "digits",
        "d",
        digits_mlp_spec(hidden=8),
        TrainingConfig(epochs=2, lr=0.05),
        seed=4,
        aggregation=AggregationSpec("median", {"min_cos": 0.1}),
    )
    full = task_from_spec({**spec, "model": digits_mlp_spec(hidden=8).to_dict()})
    assert full.to_bytes() == made.to_bytes()


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s.pop("model"),
        lambda s: s.update(colour="blue"),
        lambda s: s["model"]["mlp"].update(input=0),
        lambda s: s["model"]["mlp"].update(hidden=["8"]),
        lambda s: s["model"].update(layers=[]),
        lambda s: s["training"].update(momentum=2),
        lambda s: s.update(aggregation={"rule": "nope"}),
        lambda s: s.update(seed=-1),
    ],
)
def test_bad_specs_are_refused_by_name(change):
    spec = {
        "name": "x",
        "model": {"mlp": {"input": 4, "hidden": [], "classes": 2}},
        "training": {},
    }
    change(spec)
    with pytest.raises((InvalidTaskPackage, InvalidModelSpec)):
        task_from_spec(spec)
