"""The task package: everything an organization publishes for a pool, as one byte string.

A pool records the CID of these bytes, so they must be canonical (one task,
one byte string) and must hold no code. Layout:

    magic       b"FSTASK"
    version     u8 = 1
    header_len  u32 little-endian
    header      UTF-8 JSON, keys sorted, no whitespace, ASCII only:
                {name, description, model (ModelSpec), training (TrainingConfig),
                 aggregation (AggregationSpec: the pool's rule and its parameters),
                 weights_sha256 (hex of the initial weights' canonical bytes),
                 privacy (only when set: PrivacySpec, e.g. encrypted updates)}
    weights     canonical tensor bytes (client_kit.canonical) of the initial model

`from_bytes` accepts exactly what `to_bytes` produces: any other spelling of
the same header, unknown or missing fields, weights that do not fit the model
spec or do not match their hash, all raise `InvalidTaskPackage`.
"""

from __future__ import annotations

import json
import math
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from client_kit.canonical import (
    MalformedUpdate,
    Tensors,
    canonical_hash,
    decode_tensors,
    encode_tensors,
)
from client_kit.errors import FedstakeError
from client_kit.training.spec import (
    IncompatibleWeights,
    InvalidModelSpec,
    ModelSpec,
    check_weights,
    initial_weights,
)

MAGIC = b"FSTASK"
VERSION = 1
MAX_HEADER_BYTES = 1 << 20
MAX_NAME_CHARS = 100
MAX_DESCRIPTION_CHARS = 10_000
OPTIMIZERS = ("sgd", "adam")
_HEADER_KEYS = {"name", "description", "model", "training", "aggregation", "weights_sha256"}
_PRIVACY_KEYS = {"encrypt_updates", "round_key"}

#: Rules a pool can name. The implementations live in `offchain.aggregation`
#: (a test checks its registry holds exactly these); `DEFAULT_RULE` is its default.
AGGREGATION_RULES = ("fedavg", "fltrust", "median", "multikrum", "trimmed_mean", "trusted_mean")
DEFAULT_RULE = "trusted_mean"
MAX_RULE_PARAMS = 16
MAX_PARAM_TEXT = 64
_PARAM_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class InvalidTaskPackage(FedstakeError, ValueError):
    """Bytes or fields that are not a valid task package; `reason` is a short code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


def _number(obj: Mapping[str, Any], key: str, *, integer: bool = False) -> Any:
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidTaskPackage("training", f"{key} must be a number")
    if integer and not isinstance(value, int):
        raise InvalidTaskPackage("training", f"{key} must be an integer")
    if not math.isfinite(value):
        raise InvalidTaskPackage("training", f"{key} must be finite")
    return value if integer else float(value)


@dataclass(frozen=True)
class DPSGDConfig:
    """Participant-side DP-SGD (Abadi et al., "Deep Learning with Differential
    Privacy", CCS 2016), run through Opacus.

    epsilon: the ε budget each participant may spend in this pool, in total
    over every round (for `delta`). delta: δ in (0, 1), usually below
    1 / (local samples). max_grad_norm: the per-example gradient clip bound C
    (L2). rounds: the number of rounds the budget is planned over — each
    participant calibrates its noise multiplier so that `rounds` rounds on its
    own data spend at most ε (`client_kit.training.accounting.calibrate_noise`);
    a round past the budget is refused. accountant: Opacus's `"rdp"` or `"prv"`.
    Bad values raise `InvalidTaskPackage("training", …)`.
    """

    epsilon: float
    delta: float
    max_grad_norm: float
    rounds: int = 1
    accountant: str = "rdp"

    def __post_init__(self) -> None:
        from client_kit.training.accounting import ACCOUNTANTS

        problems = []
        if not 0 < self.epsilon < math.inf:
            problems.append("dp_sgd.epsilon must be positive and finite")
        if not 0 < self.delta < 1:
            problems.append("dp_sgd.delta must be in (0, 1)")
        if not 0 < self.max_grad_norm < math.inf:
            problems.append("dp_sgd.max_grad_norm must be positive and finite")
        if isinstance(self.rounds, bool) or not isinstance(self.rounds, int):
            problems.append("dp_sgd.rounds must be an integer")
        elif not 1 <= self.rounds <= 10_000:
            problems.append("dp_sgd.rounds must be in [1, 10000]")
        if self.accountant not in ACCOUNTANTS:
            problems.append(f"dp_sgd.accountant must be one of {list(ACCOUNTANTS)}")
        if problems:
            raise InvalidTaskPackage("training", "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return {
            "epsilon": self.epsilon,
            "delta": self.delta,
            "max_grad_norm": self.max_grad_norm,
            "rounds": self.rounds,
            "accountant": self.accountant,
        }

    @classmethod
    def from_dict(cls, obj: object) -> DPSGDConfig:
        keys = {"epsilon", "delta", "max_grad_norm", "rounds", "accountant"}
        if not isinstance(obj, Mapping) or set(obj) != keys:
            raise InvalidTaskPackage("training", f"dp_sgd keys must be exactly {sorted(keys)}")
        if not isinstance(obj["accountant"], str):
            raise InvalidTaskPackage("training", "dp_sgd.accountant must be a string")
        return cls(
            epsilon=_number(obj, "epsilon"),
            delta=_number(obj, "delta"),
            max_grad_norm=_number(obj, "max_grad_norm"),
            rounds=_number(obj, "rounds", integer=True),
            accountant=obj["accountant"],
        )


@dataclass(frozen=True)
class TrainingConfig:
    """How participants train each round. Privacy fields are optional (None = off):
    `clip_norm`/`noise_multiplier` clip and noise the whole update
    (`client_kit.training.privacy`); `dp_sgd` trains with DP-SGD and counts ε
    (`DPSGDConfig`). The header holds the key `dp_sgd` only when it is set, so
    packages written before it existed keep their bytes and CID.
    """

    epochs: int = 1
    batch_size: int = 32
    lr: float = 0.01
    optimizer: str = "sgd"
    momentum: float = 0.0
    weight_decay: float = 0.0
    clip_norm: float | None = None
    noise_multiplier: float | None = None
    dp_sgd: DPSGDConfig | None = None

    def __post_init__(self) -> None:
        problems = []
        if self.dp_sgd is not None and not isinstance(self.dp_sgd, DPSGDConfig):
            problems.append("dp_sgd must be a DPSGDConfig")
        if not 1 <= self.epochs <= 1000:
            problems.append("epochs must be in [1, 1000]")
        if not 1 <= self.batch_size <= 65536:
            problems.append("batch_size must be in [1, 65536]")
        if not 0 < self.lr <= 10:
            problems.append("lr must be in (0, 10]")
        if self.optimizer not in OPTIMIZERS:
            problems.append(f"optimizer must be one of {list(OPTIMIZERS)}")
        if not 0 <= self.momentum < 1:
            problems.append("momentum must be in [0, 1)")
        if not 0 <= self.weight_decay < 1:
            problems.append("weight_decay must be in [0, 1)")
        if self.clip_norm is not None and not 0 < self.clip_norm < math.inf:
            problems.append("clip_norm must be positive")
        if self.noise_multiplier is not None:
            if not 0 <= self.noise_multiplier < math.inf:
                problems.append("noise_multiplier must be >= 0")
            if self.clip_norm is None:
                problems.append("noise_multiplier needs clip_norm (noise is scaled by it)")
        if problems:
            raise InvalidTaskPackage("training", "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        optional = {} if self.dp_sgd is None else {"dp_sgd": self.dp_sgd.to_dict()}
        return {
            **optional,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "lr": self.lr,
            "optimizer": self.optimizer,
            "momentum": self.momentum,
            "weight_decay": self.weight_decay,
            "clip_norm": self.clip_norm,
            "noise_multiplier": self.noise_multiplier,
        }

    @classmethod
    def from_dict(cls, obj: object) -> TrainingConfig:
        if not isinstance(obj, Mapping):
            raise InvalidTaskPackage("training", "must be an object")
        keys = set(cls().to_dict())
        if not keys <= set(obj) <= keys | {"dp_sgd"}:
            raise InvalidTaskPackage(
                "training", f"keys must be exactly {sorted(keys)}, and optionally dp_sgd"
            )
        if not isinstance(obj["optimizer"], str):
            raise InvalidTaskPackage("training", "optimizer must be a string")
        optional = {
            key: None if obj[key] is None else _number(obj, key)
            for key in ("clip_norm", "noise_multiplier")
        }
        return cls(
            epochs=_number(obj, "epochs", integer=True),
            batch_size=_number(obj, "batch_size", integer=True),
            lr=_number(obj, "lr"),
            optimizer=obj["optimizer"],
            momentum=_number(obj, "momentum"),
            weight_decay=_number(obj, "weight_decay"),
            dp_sgd=None if obj.get("dp_sgd") is None else DPSGDConfig.from_dict(obj["dp_sgd"]),
            **optional,
        )


@dataclass(frozen=True)
class AggregationSpec:
    """The pool's robust rule (`rule`, one of `AGGREGATION_RULES`) and its
    keyword parameters (`params`: names in snake_case, values finite numbers,
    bools or short strings). Only the shape is checked here; the operator's
    `offchain.aggregation.make_rule` checks the values and raises a named
    error for any it cannot use."""

    rule: str = DEFAULT_RULE
    params: Mapping[str, bool | int | float | str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.rule not in AGGREGATION_RULES:
            raise InvalidTaskPackage(
                "aggregation", f"rule must be one of {list(AGGREGATION_RULES)}, got {self.rule!r}"
            )
        if not isinstance(self.params, Mapping) or len(self.params) > MAX_RULE_PARAMS:
            raise InvalidTaskPackage(
                "aggregation", f"params: an object of at most {MAX_RULE_PARAMS}"
            )
        for name, value in self.params.items():
            if not isinstance(name, str) or not _PARAM_NAME.match(name):
                raise InvalidTaskPackage(
                    "aggregation", f"parameter name {name!r} is not snake_case"
                )
            if isinstance(value, float) and not math.isfinite(value):
                raise InvalidTaskPackage("aggregation", f"{name} must be finite")
            if isinstance(value, str) and len(value) > MAX_PARAM_TEXT:
                raise InvalidTaskPackage(
                    "aggregation", f"{name}: at most {MAX_PARAM_TEXT} characters"
                )
            if not isinstance(value, bool | int | float | str):
                raise InvalidTaskPackage("aggregation", f"{name} must be a number, bool or string")
        object.__setattr__(self, "params", dict(sorted(self.params.items())))

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, obj: object) -> AggregationSpec:
        if not isinstance(obj, Mapping) or set(obj) != {"rule", "params"}:
            raise InvalidTaskPackage("aggregation", "keys must be exactly ['params', 'rule']")
        if not isinstance(obj["rule"], str):
            raise InvalidTaskPackage("aggregation", "rule must be a string")
        return cls(obj["rule"], obj["params"])


@dataclass(frozen=True)
class PrivacySpec:
    """The pool's privacy options recorded with it (in the task package, whose
    CID is on chain). `encrypt_updates`: participants seal each revealed update
    to the round's aggregator public key (`client_kit.sealing`); `round_key` is
    round 1's public key (32 bytes; round n+1's is in round n's record)."""

    encrypt_updates: bool = False
    round_key: bytes | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.encrypt_updates, bool):
            raise InvalidTaskPackage("privacy", "encrypt_updates must be a bool")
        if self.encrypt_updates != (self.round_key is not None):
            raise InvalidTaskPackage(
                "privacy", "encrypt_updates needs round 1's round_key, and only then"
            )
        if self.round_key is not None and (
            not isinstance(self.round_key, bytes) or len(self.round_key) != 32
        ):
            raise InvalidTaskPackage("privacy", "round_key must be 32 bytes")

    def to_dict(self) -> dict[str, Any]:
        assert self.round_key is not None
        return {"encrypt_updates": self.encrypt_updates, "round_key": self.round_key.hex()}

    @classmethod
    def from_dict(cls, obj: object) -> PrivacySpec:
        from client_kit.sealing import InvalidRoundKey, parse_key_hex

        if not isinstance(obj, Mapping) or set(obj) != _PRIVACY_KEYS:
            raise InvalidTaskPackage("privacy", f"keys must be exactly {sorted(_PRIVACY_KEYS)}")
        if obj["encrypt_updates"] is not True:
            raise InvalidTaskPackage("privacy", "encrypt_updates must be true when written")
        try:
            key = parse_key_hex(obj["round_key"])
        except InvalidRoundKey as exc:
            raise InvalidTaskPackage("privacy", str(exc)) from None
        return cls(True, key)


def _reject_constant(name: str) -> Any:
    raise InvalidTaskPackage("header", f"{name} is not allowed")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(keys) != len(set(keys)):
        raise InvalidTaskPackage("header", "duplicate keys")
    return dict(pairs)


@dataclass(frozen=True)
class TaskPackage:
    """A pool's task: description, model spec, training config and initial weights."""

    name: str
    description: str
    model: ModelSpec
    training: TrainingConfig
    initial_weights: bytes = field(repr=False)
    aggregation: AggregationSpec = field(default_factory=AggregationSpec)
    privacy: PrivacySpec = field(default_factory=PrivacySpec)

    def __post_init__(self) -> None:
        if not isinstance(self.privacy, PrivacySpec):
            raise InvalidTaskPackage("privacy", "must be a PrivacySpec")
        if not isinstance(self.aggregation, AggregationSpec):
            raise InvalidTaskPackage("aggregation", "must be an AggregationSpec")
        if not isinstance(self.name, str) or not 0 < len(self.name) <= MAX_NAME_CHARS:
            raise InvalidTaskPackage("name", f"must be 1 to {MAX_NAME_CHARS} characters")
        if not isinstance(self.description, str) or len(self.description) > MAX_DESCRIPTION_CHARS:
            raise InvalidTaskPackage("description", f"at most {MAX_DESCRIPTION_CHARS} characters")
        try:
            check_weights(self.model, decode_tensors(self.initial_weights), "initial weights")
        except MalformedUpdate as exc:
            raise InvalidTaskPackage("weights", str(exc)) from None
        except IncompatibleWeights as exc:
            raise InvalidTaskPackage("weights", str(exc)) from None

    @classmethod
    def create(
        cls,
        name: str,
        description: str,
        model: ModelSpec,
        training: TrainingConfig,
        *,
        seed: int = 0,
        weights: Mapping[str, Any] | None = None,
        aggregation: AggregationSpec | None = None,
        privacy: PrivacySpec | None = None,
    ) -> TaskPackage:
        """A package whose initial weights are `weights`, or a fresh init from
        `seed`; the pool's rule is `aggregation` (default: `DEFAULT_RULE`),
        its privacy options `privacy` (default: none)."""
        tensors = weights if weights is not None else initial_weights(model, seed)
        return cls(
            name,
            description,
            model,
            training,
            encode_tensors(tensors),
            aggregation or AggregationSpec(),
            privacy or PrivacySpec(),
        )

    def initial_tensors(self) -> Tensors:
        return decode_tensors(self.initial_weights)

    @property
    def initial_weights_hash(self) -> bytes:
        """SHA-256 of the initial weights: the pool's global model hash before round 1."""
        return canonical_hash(self.initial_weights)

    def _header(self) -> bytes:
        header = {
            "name": self.name,
            "description": self.description,
            "model": self.model.to_dict(),
            "training": self.training.to_dict(),
            "aggregation": self.aggregation.to_dict(),
            "weights_sha256": self.initial_weights_hash.hex(),
        }
        if self.privacy.encrypt_updates:  # written only when set: old packages keep their CIDs
            header["privacy"] = self.privacy.to_dict()
        text = json.dumps(header, sort_keys=True, separators=(",", ":"), allow_nan=False)
        return text.encode("ascii")

    def to_bytes(self) -> bytes:
        header = self._header()
        return MAGIC + struct.pack("<BI", VERSION, len(header)) + header + self.initial_weights

    @classmethod
    def from_bytes(cls, data: bytes) -> TaskPackage:
        data = bytes(data)
        fixed = len(MAGIC) + 5
        if len(data) < fixed or not data.startswith(MAGIC):
            raise InvalidTaskPackage("magic", "not a fedstake task package")
        version, header_len = struct.unpack_from("<BI", data, len(MAGIC))
        if version != VERSION:
            raise InvalidTaskPackage("version", f"unsupported version {version}")
        if header_len > MAX_HEADER_BYTES or fixed + header_len > len(data):
            raise InvalidTaskPackage("header", f"announced length {header_len} does not fit")
        raw_header = data[fixed : fixed + header_len]
        try:
            header = json.loads(
                raw_header.decode("ascii"),
                object_pairs_hook=_unique_keys,
                parse_constant=_reject_constant,
            )
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidTaskPackage("header", f"not canonical JSON: {exc}") from None
        if not isinstance(header, dict) or set(header) - {"privacy"} != _HEADER_KEYS:
            raise InvalidTaskPackage("header", f"keys must be exactly {sorted(_HEADER_KEYS)}")
        try:
            model = ModelSpec.from_dict(header["model"])
        except InvalidModelSpec as exc:
            raise InvalidTaskPackage("model", str(exc)) from None
        weights = data[fixed + header_len :]
        if canonical_hash(weights).hex() != header["weights_sha256"]:
            raise InvalidTaskPackage("weights", "weights do not match weights_sha256")
        package = cls(
            name=header["name"],
            description=header["description"],
            model=model,
            training=TrainingConfig.from_dict(header["training"]),
            initial_weights=weights,
            aggregation=AggregationSpec.from_dict(header["aggregation"]),
            privacy=(
                PrivacySpec.from_dict(header["privacy"]) if "privacy" in header else PrivacySpec()
            ),
        )
        if package._header() != raw_header:
            raise InvalidTaskPackage("header", "not in canonical form")
        return package


_SPEC_KEYS = {"name", "description", "model", "training", "aggregation", "seed"}
_MLP_KEYS = {"input", "hidden", "classes"}


def task_from_spec(spec: object) -> TaskPackage:
    """A task package from a declarative spec (what `fedstake task init` reads).

    `spec` is a mapping with keys `name`, optional `description`, `model`,
    optional `training` (any `TrainingConfig` fields; the rest default),
    optional `aggregation` (`{"rule": ..., "params": {...}}`) and optional
    `seed` (initial weights). `model` is either a full `ModelSpec` object
    (`input_shape`, `num_classes`, `layers`) or the shorthand
    `{"mlp": {"input": 64, "hidden": [64], "classes": 10}}`. Unknown keys and
    bad values raise `InvalidTaskPackage` / `InvalidModelSpec`.
    """
    from client_kit.training.spec import mlp_spec

    if not isinstance(spec, Mapping):
        raise InvalidTaskPackage("spec", "must be a JSON object")
    unknown = set(spec) - _SPEC_KEYS
    if unknown or "name" not in spec or "model" not in spec:
        raise InvalidTaskPackage(
            "spec", f"needs name and model; allowed keys {sorted(_SPEC_KEYS)}, got {sorted(spec)}"
        )
    model_obj = spec["model"]
    if isinstance(model_obj, Mapping) and set(model_obj) == {"mlp"}:
        mlp = model_obj["mlp"]
        if (
            not isinstance(mlp, Mapping)
            or set(mlp) - _MLP_KEYS
            or not {"input", "classes"} <= set(mlp)
        ):
            raise InvalidTaskPackage(
                "model", f"mlp needs input and classes (keys {sorted(_MLP_KEYS)})"
            )
        hidden = mlp.get("hidden", [])
        if not all(_is_count(v) for v in (mlp["input"], mlp["classes"])) or not (
            _is_count(hidden) or (isinstance(hidden, list) and all(_is_count(h) for h in hidden))
        ):
            raise InvalidTaskPackage("model", "mlp sizes must be positive integers")
        model = mlp_spec(mlp["input"], hidden, mlp["classes"])
    else:
        model = ModelSpec.from_dict(model_obj)
    training_obj = spec.get("training", {})
    if not isinstance(training_obj, Mapping):
        raise InvalidTaskPackage("training", "must be an object")
    training_obj = dict(training_obj)
    if isinstance(training_obj.get("dp_sgd"), Mapping):  # rounds and accountant may be left out
        training_obj["dp_sgd"] = {"rounds": 1, "accountant": "rdp", **training_obj["dp_sgd"]}
    training = TrainingConfig.from_dict({**TrainingConfig().to_dict(), **training_obj})
    aggregation_obj = spec.get("aggregation", {"rule": DEFAULT_RULE, "params": {}})
    if isinstance(aggregation_obj, Mapping):
        aggregation_obj = {"params": {}, **aggregation_obj}
    seed = spec.get("seed", 0)
    if not _is_count(seed) and seed != 0:
        raise InvalidTaskPackage("seed", "must be a non-negative integer")
    return TaskPackage.create(
        spec["name"],
        spec.get("description", ""),
        model,
        training,
        seed=seed,
        aggregation=AggregationSpec.from_dict(aggregation_obj),
    )


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
