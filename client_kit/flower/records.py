"""Flower's ArrayRecord ↔ fedstake's canonical tensors.

An ArrayRecord keeps its arrays under names (a torch `state_dict`'s keys when
built from one); those names are the canonical tensor names, so a model whose
state_dict reads `layers.0.weight`, `layers.0.bias`, … matches a task
package's model spec (`client_kit.training.spec`) name for name. Tensors are
float32, as canonical updates must be.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

import numpy as np
from flwr.app import Array, ArrayRecord, RecordDict

from client_kit.canonical import Tensors
from client_kit.flower.protocol import FlowerProtocolError


def tensors_of(record: ArrayRecord) -> Tensors:
    """The record's arrays as float32 numpy tensors, by name (record order)."""
    return {name: np.asarray(array.numpy(), dtype=np.float32) for name, array in record.items()}


def record_of(tensors: Mapping[str, np.ndarray]) -> ArrayRecord:
    """An ArrayRecord holding `tensors` (float32) under their names, in name order."""
    arrays = OrderedDict(
        (name, Array(np.ascontiguousarray(tensors[name], dtype=np.float32)))
        for name in sorted(tensors)
    )
    return ArrayRecord(arrays)


def only_arrays(content: RecordDict, what: str) -> ArrayRecord:
    """The one ArrayRecord in `content` (a Flower train message or reply);
    `FlowerProtocolError` when there is none or more than one."""
    records = list(content.array_records.values())
    if len(records) != 1:
        raise FlowerProtocolError(f"{what} must hold exactly one ArrayRecord, not {len(records)}")
    return records[0]


def update_between(base: Mapping[str, np.ndarray], trained: Mapping[str, np.ndarray]) -> Tensors:
    """The update a participant commits to: trained − base, per tensor, float32
    (fedstake's updates are deltas from the round's base model).
    `FlowerProtocolError` if the names or shapes differ."""
    if set(base) != set(trained):
        raise FlowerProtocolError(
            f"the trained arrays {sorted(trained)} are not the global model's {sorted(base)}"
        )
    update = {}
    for name, value in base.items():
        if np.shape(trained[name]) != np.shape(value):
            raise FlowerProtocolError(f"{name}: trained shape differs from the global model's")
        update[name] = (
            np.asarray(trained[name], np.float32) - np.asarray(value, np.float32)
        ).astype(np.float32)
    return update
