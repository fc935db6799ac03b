"""The streaming tensors_hash equals SHA-256 of the canonical bytes."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from client_kit.canonical import decode_tensors, encode_tensors, tensors_hash

RNG = np.random.default_rng(0)
CASES = {
    "empty": {},
    "one float32": {"w": RNG.standard_normal((3, 4)).astype(np.float32)},
    "mixed dtypes": {
        "b": np.arange(5, dtype=np.int64),
        "a": RNG.standard_normal(7).astype(np.float16),
        "c": np.zeros((0, 3), np.float64),
    },
    "non-contiguous": {"t": RNG.standard_normal((4, 5)).astype(np.float32).T},
    "big-endian": {"x": np.arange(6, dtype=">f4")},
    "torch": {"layer.weight": torch.ones(2, 3), "layer.bias": torch.zeros(3)},
    "unicode names": {"é": np.ones(2, np.float32), "z": np.ones(1, np.int32)},
}


@pytest.mark.parametrize("tensors", CASES.values(), ids=CASES.keys())
def test_streaming_hash_equals_hash_of_bytes(tensors: dict) -> None:
    data = encode_tensors(tensors)
    assert tensors_hash(tensors) == hashlib.sha256(data).digest()
    assert tensors_hash(decode_tensors(data)) == hashlib.sha256(data).digest()
