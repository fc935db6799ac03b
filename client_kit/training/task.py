"""The task package: everything an organization publishes for a pool, as one byte string.

A pool records the CID of these bytes, so they must be canonical (one task,
one byte string) and must hold no code. Layout:

    magic       b"FSTASK"
    version     u8 = 1
    header_len  u32 little-endian
    header      UTF-8 JSON, keys sorted, no whitespace, ASCII only:
                {name, description, model (ModelSpec), training (TrainingConfig),
                 weights_sha256 (hex of the initial weights' canonical bytes)}
    weights     canonical tensor bytes (client_kit.canonical) of the initial model

`from_bytes` accepts exactly what `to_bytes` produces: any other spelling of
the same header, unknown or missing fields, weights that do not fit the model
spec or do not match their hash, all raise `InvalidTaskPackage`.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from client_kit.canonical import MalformedUpdate, Tensors, decode_tensors, encode_tensors
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
_HEADER_KEYS = {"name", "description", "model", "training", "weights_sha256"}


class InvalidTaskPackage(ValueError):
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
class TrainingConfig:
    """How participants train each round. Privacy fields are optional (None = off)."""

    epochs: int = 1
    batch_size: int = 32
    lr: float = 0.01
    optimizer: str = "sgd"
    momentum: float = 0.0
    weight_decay: float = 0.0
    clip_norm: float | None = None
    noise_multiplier: float | None = None

    def __post_init__(self) -> None:
        problems = []
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
        return {
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
        if set(obj) != keys:
            raise InvalidTaskPackage("training", f"keys must be exactly {sorted(keys)}")
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
            **optional,
        )


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

    def __post_init__(self) -> None:
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
    ) -> TaskPackage:
        """A package whose initial weights are `weights`, or a fresh init from `seed`."""
        tensors = weights if weights is not None else initial_weights(model, seed)
        return cls(name, description, model, training, encode_tensors(tensors))

    def initial_tensors(self) -> Tensors:
        return decode_tensors(self.initial_weights)

    @property
    def initial_weights_hash(self) -> bytes:
        """SHA-256 of the initial weights: the pool's global model hash before round 1."""
        return hashlib.sha256(self.initial_weights).digest()

    def _header(self) -> bytes:
        header = {
            "name": self.name,
            "description": self.description,
            "model": self.model.to_dict(),
            "training": self.training.to_dict(),
            "weights_sha256": self.initial_weights_hash.hex(),
        }
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
        if not isinstance(header, dict) or set(header) != _HEADER_KEYS:
            raise InvalidTaskPackage("header", f"keys must be exactly {sorted(_HEADER_KEYS)}")
        try:
            model = ModelSpec.from_dict(header["model"])
        except InvalidModelSpec as exc:
            raise InvalidTaskPackage("model", str(exc)) from None
        weights = data[fixed + header_len :]
        if hashlib.sha256(weights).hexdigest() != header["weights_sha256"]:
            raise InvalidTaskPackage("weights", "weights do not match weights_sha256")
        package = cls(
            name=header["name"],
            description=header["description"],
            model=model,
            training=TrainingConfig.from_dict(header["training"]),
            initial_weights=weights,
        )
        if package._header() != raw_header:
            raise InvalidTaskPackage("header", "not in canonical form")
        return package
