"""docs/canonical-bytes.md pins the canonical layout: its vectors were written
from the document (bytes by hand, SHA-256 with coreutils), and the code must
produce and accept exactly them, and refuse its rejected bytes by reason."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from client_kit.canonical import (
    MalformedUpdate,
    canonical_hash,
    decode_tensors,
    encode_tensors,
    tensors_hash,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "canonical-bytes.md"
_BLOCK = re.compile(r"```(vector|rejected)\n(.*?)```", re.S)


def _blocks(kind: str) -> list[dict[str, str]]:
    found = []
    for block_kind, body in _BLOCK.findall(DOC.read_text(encoding="utf-8")):
        if block_kind != kind:
            continue
        fields: dict[str, str] = {}
        key = ""
        for line in body.splitlines():
            if re.match(r"^[a-z0-9]+:", line):
                key, _, value = line.partition(":")
                fields[key] = value.strip()
            else:
                fields[key] += "\n" + line.strip()
        found.append(fields)
    return found


def _tensors(text: str) -> dict[str, np.ndarray]:
    tensors = {}
    for line in filter(None, (part.strip() for part in text.splitlines())):
        name, _, rest = line.partition(": ")
        dtype, shape_text, values = re.match(r"(\w+) \[([^\]]*)\]\s*(.*)", rest).groups()  # type: ignore[union-attr]
        shape = tuple(int(d) for d in shape_text.split(",") if d.strip())
        numbers = [float(v) for v in values.split()]
        tensors[name] = np.array(numbers, dtype=dtype).reshape(shape)
    return tensors


VECTORS = _blocks("vector")
REJECTED = _blocks("rejected")


def test_the_document_has_vectors() -> None:
    assert len(VECTORS) >= 4 and len(REJECTED) >= 8


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_encoding_gives_the_documented_bytes_and_hash(vector: dict[str, str]) -> None:
    tensors = _tensors(vector["tensors"])
    expected = bytes.fromhex("".join(vector["hex"].split()))
    assert encode_tensors(tensors) == expected
    assert canonical_hash(expected).hex() == vector["sha256"]
    assert tensors_hash(tensors).hex() == vector["sha256"]
    decoded = decode_tensors(expected)
    assert list(decoded) == sorted(tensors, key=lambda n: n.encode())
    for name, array in tensors.items():
        assert decoded[name].dtype == array.dtype and decoded[name].shape == array.shape
        assert np.array_equal(decoded[name], array)


@pytest.mark.parametrize("case", REJECTED, ids=[c["name"] for c in REJECTED])
def test_documented_bad_bytes_are_refused_by_reason(case: dict[str, str]) -> None:
    with pytest.raises(MalformedUpdate) as raised:
        decode_tensors(bytes.fromhex("".join(case["hex"].split())))
    assert raised.value.reason == case["reason"]
