"""Declarative model specs: the only model description an organization can publish.

Participants never run code from a task package, so a model is described as
data (input shape, classes, a list of layers from a small fixed vocabulary)
and built here. Validation is strict and complete before anything is built:
unknown layer types or parameters, shapes that do not chain, an output that
is not `num_classes` wide, or a model too large to train on a laptop are all
refused with `InvalidModelSpec` naming the offending field.

Tensor names are `layers.<i>.weight` / `layers.<i>.bias`, where `i` is the
layer's index in the spec, so the same spec always yields the same names (the
canonical update bytes and every aggregator depend on them).
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from client_kit.canonical import Tensors
from client_kit.errors import FedstakeError

if TYPE_CHECKING:  # torch is imported on use: validating a spec must not cost a torch import
    import torch

LAYER_TYPES = ("dense", "conv2d", "relu", "flatten", "maxpool2d", "dropout")
MAX_LAYERS = 64
MAX_PARAMETERS = 20_000_000
MAX_INPUT_ELEMENTS = 1_000_000
MAX_DIM = 1_000_000

_REQUIRED = object()
# per layer type: parameter -> (kind, default)
_PARAMS: dict[str, dict[str, tuple[str, Any]]] = {
    "dense": {"units": ("pos_int", _REQUIRED), "bias": ("bool", True)},
    "conv2d": {
        "filters": ("pos_int", _REQUIRED),
        "kernel_size": ("pos_int", _REQUIRED),
        "stride": ("pos_int", 1),
        "padding": ("nonneg_int", 0),
        "bias": ("bool", True),
    },
    "maxpool2d": {"kernel_size": ("pos_int", _REQUIRED), "stride": ("pos_int", None)},
    "dropout": {"rate": ("rate", 0.5)},
    "relu": {},
    "flatten": {},
}


class InvalidModelSpec(FedstakeError, ValueError):
    """A model spec that cannot be built; `field` says where (e.g. `layers[2].units`)."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_param(where: str, kind: str, value: Any) -> Any:
    if kind == "bool":
        if not isinstance(value, bool):
            raise InvalidModelSpec(where, "must be true or false")
        return value
    if kind == "rate":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidModelSpec(where, "must be a number")
        if not 0.0 <= float(value) < 1.0:
            raise InvalidModelSpec(where, "must be in [0, 1)")
        return float(value)
    if value is None and kind == "pos_int":
        return None  # only reachable for optional params whose default is None
    if not _is_int(value):
        raise InvalidModelSpec(where, "must be an integer")
    low = 1 if kind == "pos_int" else 0
    if not low <= value <= MAX_DIM:
        raise InvalidModelSpec(where, f"must be between {low} and {MAX_DIM}")
    return value


@dataclass(frozen=True)
class LayerSpec:
    """One layer: a type from `LAYER_TYPES` and its parameters (defaults filled in)."""

    type: str
    params: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, obj: object, where: str = "layer") -> LayerSpec:
        if not isinstance(obj, Mapping):
            raise InvalidModelSpec(where, "must be an object with `type` and `params`")
        extra = set(obj) - {"type", "params"}
        if extra:
            raise InvalidModelSpec(where, f"unknown keys {sorted(extra)}")
        kind = obj.get("type")
        if kind not in _PARAMS:
            raise InvalidModelSpec(f"{where}.type", f"must be one of {list(LAYER_TYPES)}")
        given = obj.get("params", {})
        if not isinstance(given, Mapping):
            raise InvalidModelSpec(f"{where}.params", "must be an object")
        schema = _PARAMS[kind]
        unknown = set(given) - set(schema)
        if unknown:
            raise InvalidModelSpec(f"{where}.params", f"unknown parameters {sorted(unknown)}")
        params: dict[str, Any] = {}
        for name, (check, default) in schema.items():
            if name in given:
                params[name] = _check_param(f"{where}.{name}", check, given[name])
            elif default is _REQUIRED:
                raise InvalidModelSpec(f"{where}.{name}", "is required")
            else:
                params[name] = default
        if kind == "maxpool2d" and params["stride"] is None:
            params["stride"] = params["kernel_size"]
        return cls(kind, params)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "params": dict(self.params)}


@dataclass(frozen=True)
class ModelSpec:
    """Input shape (without the batch axis), number of classes, layers in order."""

    input_shape: tuple[int, ...]
    num_classes: int
    layers: tuple[LayerSpec, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_shape", tuple(self.input_shape))
        object.__setattr__(self, "layers", tuple(self.layers))
        self._infer()  # validates: a ModelSpec that exists is buildable

    # --- (de)serialization ---

    @classmethod
    def from_dict(cls, obj: object) -> ModelSpec:
        if not isinstance(obj, Mapping):
            raise InvalidModelSpec("model", "must be an object")
        extra = set(obj) - {"input_shape", "num_classes", "layers"}
        if extra:
            raise InvalidModelSpec("model", f"unknown keys {sorted(extra)}")
        shape = obj.get("input_shape")
        if not isinstance(shape, list | tuple) or not all(_is_int(d) for d in shape):
            raise InvalidModelSpec("input_shape", "must be a list of integers")
        layers = obj.get("layers")
        if not isinstance(layers, list | tuple):
            raise InvalidModelSpec("layers", "must be a list")
        if len(layers) > MAX_LAYERS:
            raise InvalidModelSpec("layers", f"at most {MAX_LAYERS} layers")
        return cls(
            input_shape=tuple(shape),
            num_classes=obj.get("num_classes"),  # type: ignore[arg-type]  (checked in _infer)
            layers=tuple(
                LayerSpec.from_dict(layer, f"layers[{i}]") for i, layer in enumerate(layers)
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "layers": [layer.to_dict() for layer in self.layers],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> ModelSpec:
        try:
            obj = json.loads(text)
        except ValueError as exc:
            raise InvalidModelSpec("model", f"not JSON: {exc}") from None
        return cls.from_dict(obj)

    # --- shapes ---

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every tensor the model has, by its stable name, in layer order."""
        return self._infer()[1]

    @property
    def num_parameters(self) -> int:
        return sum(math.prod(shape) for shape in self.parameter_shapes().values())

    def _infer(self) -> tuple[tuple[int, ...], dict[str, tuple[int, ...]]]:
        """Walk the layers; return (output shape, parameter shapes) or raise."""
        shape = self.input_shape
        if not 1 <= len(shape) <= 3 or not all(_is_int(d) and d >= 1 for d in shape):
            raise InvalidModelSpec("input_shape", "must have 1 to 3 positive dimensions")
        if math.prod(shape) > MAX_INPUT_ELEMENTS:
            raise InvalidModelSpec("input_shape", f"more than {MAX_INPUT_ELEMENTS} elements")
        if not _is_int(self.num_classes) or not 2 <= self.num_classes <= MAX_DIM:
            raise InvalidModelSpec("num_classes", "must be an integer >= 2")
        if not self.layers or len(self.layers) > MAX_LAYERS:
            raise InvalidModelSpec("layers", f"must hold 1 to {MAX_LAYERS} layers")
        params: dict[str, tuple[int, ...]] = {}
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, LayerSpec):
                raise InvalidModelSpec(f"layers[{i}]", "must be a LayerSpec")
            if layer.type not in _PARAMS:
                raise InvalidModelSpec(f"layers[{i}].type", f"must be one of {list(LAYER_TYPES)}")
            shape = _layer_output(i, layer, shape, params)
        if shape != (self.num_classes,):
            raise InvalidModelSpec(
                "layers", f"the model outputs {list(shape)}, expected [{self.num_classes}]"
            )
        total = sum(math.prod(s) for s in params.values())
        if total > MAX_PARAMETERS:
            raise InvalidModelSpec("layers", f"{total} parameters, more than {MAX_PARAMETERS}")
        return shape, params


def _layer_output(
    i: int, layer: LayerSpec, shape: tuple[int, ...], params: dict[str, tuple[int, ...]]
) -> tuple[int, ...]:
    where = f"layers[{i}]"
    p = layer.params
    if layer.type in ("relu", "dropout"):
        return shape
    if layer.type == "flatten":
        return (math.prod(shape),)
    if layer.type == "dense":
        if len(shape) != 1:
            raise InvalidModelSpec(
                where, f"dense needs a flat input, got {list(shape)}; flatten first"
            )
        params[f"layers.{i}.weight"] = (p["units"], shape[0])
        if p["bias"]:
            params[f"layers.{i}.bias"] = (p["units"],)
        return (p["units"],)
    if len(shape) != 3:
        raise InvalidModelSpec(where, f"{layer.type} needs a [channels, height, width] input")
    channels, height, width = shape
    if layer.type == "conv2d":
        k, s, pad = p["kernel_size"], p["stride"], p["padding"]
        out_h = (height + 2 * pad - k) // s + 1
        out_w = (width + 2 * pad - k) // s + 1
        if out_h < 1 or out_w < 1:
            raise InvalidModelSpec(where, f"kernel {k} does not fit a {height}x{width} input")
        params[f"layers.{i}.weight"] = (p["filters"], channels, k, k)
        if p["bias"]:
            params[f"layers.{i}.bias"] = (p["filters"],)
        return (p["filters"], out_h, out_w)
    k, s = p["kernel_size"], p["stride"]
    if k > height or k > width:
        raise InvalidModelSpec(where, f"pool {k} does not fit a {height}x{width} input")
    return (channels, (height - k) // s + 1, (width - k) // s + 1)


# --- building -----------------------------------------------------------------------------------


def mlp_spec(inputs: int, hidden: int | tuple[int, ...] | list[int], classes: int) -> ModelSpec:
    """A perceptron on a flat input of `inputs` features: dense(h) → relu for
    each hidden width `h` (none for 0 or an empty list), then dense(`classes`).
    What `fedstake task init --model mlp` builds; raises `InvalidModelSpec`."""
    widths = [hidden] if isinstance(hidden, int) else list(hidden)
    layers: list[LayerSpec] = []
    for width in widths:
        if width:
            layers += [LayerSpec("dense", {"units": width, "bias": True}), LayerSpec("relu", {})]
    layers.append(LayerSpec("dense", {"units": classes, "bias": True}))
    return ModelSpec(input_shape=(inputs,), num_classes=classes, layers=tuple(layers))


class IncompatibleWeights(FedstakeError, ValueError):
    """Tensors whose names, shapes or values do not fit the model spec."""


def check_weights(
    spec: ModelSpec, weights: Mapping[str, np.ndarray], what: str = "weights"
) -> None:
    """Raise `IncompatibleWeights` unless `weights` has exactly the spec's tensors, finite."""
    expected = spec.parameter_shapes()
    if set(weights) != set(expected):
        missing = sorted(set(expected) - set(weights))
        extra = sorted(set(weights) - set(expected))
        raise IncompatibleWeights(f"{what}: missing {missing}, unexpected {extra}")
    for name, shape in expected.items():
        array = np.asarray(weights[name])
        if array.shape != shape:
            raise IncompatibleWeights(f"{what}: {name} has shape {array.shape}, expected {shape}")
        if array.dtype.kind != "f":
            raise IncompatibleWeights(f"{what}: {name} is {array.dtype}, expected floats")
        if not np.isfinite(array).all():
            raise IncompatibleWeights(f"{what}: {name} holds NaN or infinity")


def build_model(spec: ModelSpec, seed: int = 0) -> torch.nn.Module:
    """The torch module for `spec`, initialised deterministically from `seed`.

    Weights and biases are drawn uniformly from ±1/sqrt(fan_in) (torch's own
    default bounds) with a private generator, so the global RNG is untouched
    and the same (spec, seed) gives bit-identical weights.
    """
    import torch
    from torch import nn

    with torch.random.fork_rng(devices=[]):  # torch's own init draws from the global RNG
        modules = _modules(spec)
    # an outer Sequential holding one child named "layers": parameter names become
    # `layers.<i>.weight`, with no model class of our own to import or pickle
    model = nn.Sequential(OrderedDict(layers=nn.Sequential(*modules)))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in modules:
            weight = getattr(module, "weight", None)
            if weight is None:
                continue
            bound = 1.0 / math.sqrt(weight[0].numel())  # fan_in
            weight.uniform_(-bound, bound, generator=generator)
            if module.bias is not None:
                module.bias.uniform_(-bound, bound, generator=generator)
    return model


def _modules(spec: ModelSpec) -> list[torch.nn.Module]:
    from torch import nn

    modules: list[torch.nn.Module] = []
    shape = spec.input_shape
    for layer in spec.layers:
        p = layer.params
        if layer.type == "dense":
            modules.append(nn.Linear(shape[0], p["units"], bias=p["bias"]))
        elif layer.type == "conv2d":
            modules.append(
                nn.Conv2d(
                    shape[0],
                    p["filters"],
                    p["kernel_size"],
                    stride=p["stride"],
                    padding=p["padding"],
                    bias=p["bias"],
                )
            )
        elif layer.type == "maxpool2d":
            modules.append(nn.MaxPool2d(p["kernel_size"], stride=p["stride"]))
        elif layer.type == "dropout":
            modules.append(nn.Dropout(p["rate"]))
        elif layer.type == "relu":
            modules.append(nn.ReLU())
        else:
            modules.append(nn.Flatten())
        shape = _layer_output(len(modules) - 1, layer, shape, {})
    return modules


def model_weights(model: torch.nn.Module) -> Tensors:
    """The model's tensors as float32 numpy copies, by their stable names."""
    return {
        name: tensor.detach().cpu().numpy().astype(np.float32, copy=True)
        for name, tensor in model.state_dict().items()
    }


def load_weights(
    model: torch.nn.Module, spec: ModelSpec, weights: Mapping[str, np.ndarray]
) -> None:
    """Copy `weights` into `model` after checking them against `spec`."""
    import torch

    check_weights(spec, weights)
    state = {name: torch.from_numpy(np.array(weights[name], dtype=np.float32)) for name in weights}
    model.load_state_dict(state, strict=True)


def initial_weights(spec: ModelSpec, seed: int = 0) -> Tensors:
    """Freshly initialised weights of `spec` (what a new pool starts from)."""
    return model_weights(build_model(spec, seed))
