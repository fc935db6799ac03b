"""`compute_cid` against the real node, over the shapes where UnixFS layouts differ.

The reference CIDs come from kubo itself (`ipfs add --only-hash` with the
settings `client_kit.storage.cid` reproduces), computed at test time on
inputs generated here. The sizes follow the convergence matrix that IPFS
implementations test each other with: a single raw block, the chunk
boundary, and the 174-link boundary where the balanced DAG gains a level.
"""

from __future__ import annotations

import hashlib

import pytest

from client_kit.storage.cid import DEFAULT_CHUNK_SIZE, compute_cid, compute_file_cid

CHUNK = DEFAULT_CHUNK_SIZE
ADD = ["add", "--only-hash", "-Q", "--cid-version=1", "--raw-leaves=true",
       f"--chunker=size-{CHUNK}", "--trickle=false", "--pin=false"]  # fmt: skip

SIZES = [
    ("empty", 0),
    ("1B", 1),
    ("50B", 50),
    ("chunk-1", CHUNK - 1),
    ("chunk", CHUNK),
    ("chunk+1", CHUNK + 1),
    ("174 chunks", 174 * CHUNK),
    ("174 chunks+1", 174 * CHUNK + 1),
    ("175 chunks", 175 * CHUNK),
    ("175 chunks+1", 175 * CHUNK + 1),
]


def content(size: int, kind: str) -> bytes:
    if kind == "repeat":
        return (b"fedstake convergence " * (size // 21 + 1))[:size]
    return hashlib.shake_256(b"fedstake convergence").digest(size)


@pytest.mark.parametrize("kind", ["random", "repeat"])
@pytest.mark.parametrize(("label", "size"), SIZES, ids=[label for label, _ in SIZES])
def test_local_cid_equals_kubo_add(kubo_node, tmp_path, kind, label, size):
    data = content(size, kind)
    path = tmp_path / "input"
    path.write_bytes(data)
    expected = kubo_node.cli(*ADD, str(path)).decode().strip()
    assert compute_cid(data) == expected
    assert compute_file_cid(path) == expected
