"""Model specs: strict validation with named errors, stable names, seeded builds."""

from __future__ import annotations

import numpy as np
import pytest

from client_kit.training.spec import (
    IncompatibleWeights,
    InvalidModelSpec,
    ModelSpec,
    build_model,
    check_weights,
    initial_weights,
)

CONV = {
    "input_shape": [1, 8, 8],
    "num_classes": 10,
    "layers": [
        {"type": "conv2d", "params": {"filters": 4, "kernel_size": 3, "padding": 1}},
        {"type": "relu"},
        {"type": "maxpool2d", "params": {"kernel_size": 2}},
        {"type": "flatten"},
        {"type": "dropout", "params": {"rate": 0.1}},
        {"type": "dense", "params": {"units": 10}},
    ],
}


def with_changes(**changes):
    return {**CONV, **changes}


def test_json_round_trip_fills_defaults_and_is_stable():
    spec = ModelSpec.from_dict(CONV)
    assert ModelSpec.from_json(spec.to_json()) == spec
    assert spec.layers[0].params == {
        "filters": 4,
        "kernel_size": 3,
        "stride": 1,
        "padding": 1,
        "bias": True,
    }
    assert spec.layers[2].params["stride"] == 2


def test_parameter_names_follow_layer_indices():
    spec = ModelSpec.from_dict(CONV)
    assert spec.parameter_shapes() == {
        "layers.0.weight": (4, 1, 3, 3),
        "layers.0.bias": (4,),
        "layers.5.weight": (10, 64),
        "layers.5.bias": (10,),
    }
    model = build_model(spec, seed=0)
    assert list(model.state_dict()) == list(spec.parameter_shapes())


def test_build_is_deterministic_in_the_seed():
    spec = ModelSpec.from_dict(CONV)
    first, again, other = (initial_weights(spec, s) for s in (3, 3, 4))
    assert all(np.array_equal(first[k], again[k]) for k in first)
    assert not np.array_equal(first["layers.0.weight"], other["layers.0.weight"])


def test_build_leaves_the_global_torch_rng_alone():
    import torch

    torch.manual_seed(5)
    expected = torch.rand(2)
    torch.manual_seed(5)
    build_model(ModelSpec.from_dict(CONV), seed=0)
    assert torch.equal(torch.rand(2), expected)


def test_built_model_maps_a_batch_to_class_scores():
    import torch

    model = build_model(ModelSpec.from_dict(CONV), seed=0)
    assert model(torch.zeros(5, 1, 8, 8)).shape == (5, 10)


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (with_changes(layers=[{"type": "lstm"}]), "layers[0].type"),
        (
            with_changes(layers=[{"type": "dense", "params": {"units": 10, "act": "x"}}]),
            "layers[0].params",
        ),
        (with_changes(layers=[{"type": "dense", "params": {}}]), "layers[0].units"),
        (with_changes(layers=[{"type": "dense", "params": {"units": True}}]), "layers[0].units"),
        (with_changes(layers=[{"type": "dense", "params": {"units": 0}}]), "layers[0].units"),
        (with_changes(layers=[{"type": "dropout", "params": {"rate": 1.0}}]), "layers[0].rate"),
        (with_changes(layers=[{"type": "dense", "params": {"units": 10}}]), "layers[0]"),
        (with_changes(layers=CONV["layers"][:-1]), "layers"),
        (with_changes(layers=[]), "layers"),
        (with_changes(num_classes=1), "num_classes"),
        (with_changes(input_shape=[0, 8, 8]), "input_shape"),
        (with_changes(input_shape="8x8"), "input_shape"),
        (with_changes(extra=1), "model"),
        (
            with_changes(layers=[{"type": "conv2d", "params": {"filters": 2, "kernel_size": 9}}]),
            "layers[0]",
        ),
        (
            {
                "input_shape": [100000],
                "num_classes": 10,
                "layers": [
                    {"type": "dense", "params": {"units": 1000}},
                    {"type": "dense", "params": {"units": 10}},
                ],
            },
            "layers",
        ),
    ],
)
def test_invalid_specs_name_the_field(spec, field):
    with pytest.raises(InvalidModelSpec) as raised:
        ModelSpec.from_dict(spec)
    assert raised.value.field == field


def test_spec_json_that_is_not_json():
    with pytest.raises(InvalidModelSpec):
        ModelSpec.from_json("{nope")


def test_weights_that_do_not_fit_the_spec():
    spec = ModelSpec.from_dict(CONV)
    weights = initial_weights(spec)
    with pytest.raises(IncompatibleWeights):
        check_weights(spec, {k: v for k, v in weights.items() if k != "layers.0.bias"})
    with pytest.raises(IncompatibleWeights):
        check_weights(spec, {**weights, "layers.0.bias": np.zeros(5, np.float32)})
    with pytest.raises(IncompatibleWeights):
        check_weights(spec, {**weights, "layers.0.bias": np.full(4, np.nan, np.float32)})
