"""Canonical bytes of a model or update: the one serialization that is hashed.

Hashes recorded on chain must not depend on pickle, dict order or the file
system, so every party (participant, aggregator, `verify-round`) turns a set of
named tensors into bytes with this module and nothing else.

Layout (all integers little-endian):

    magic    b"FSTK"            4 bytes
    version  u8 = 1
    count    u32                number of tensors
    per tensor, in ascending UTF-8 byte order of the name:
        name_len u16, name (UTF-8)
        dtype    u8   (see DTYPE_CODES)
        ndim     u8,  dims u64 × ndim
        data     little-endian, C order, prod(dims) × itemsize bytes

`decode_tensors` accepts only byte strings `encode_tensors` could have made:
anything else raises `MalformedUpdate` with a short reason, whatever the
bytes (a fuzz test holds it to that). Besides the layout, a tensor may hold at
most `MAX_ELEMENTS` elements, counting a zero dimension as one, so no shape a
peer sends can overflow numpy's size arithmetic. docs/canonical-bytes.md gives
the format with byte-level vectors.

The hash of canonical bytes is `canonical_hash(data)` (or `tensors_hash`,
which streams the same bytes): the one place update and model hashes are made.
`update_commitment` binds an update hash to the wallet that commits to it
(what `submit_update` records; docs/PROTOCOL.md).
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Mapping
from typing import BinaryIO

import numpy as np

from client_kit.errors import FedstakeError

MAGIC = b"FSTK"
VERSION = 1
MAX_NDIM = 8
MAX_TENSORS = 4096
MAX_NAME_BYTES = 256
MAX_ELEMENTS = 1 << 32  # per tensor; zero dimensions count as 1 in this bound

DTYPE_CODES: dict[str, int] = {"float32": 1, "float64": 2, "int64": 3, "int32": 4, "float16": 5}
CODE_DTYPES: dict[int, np.dtype] = {
    code: np.dtype(name).newbyteorder("<") for name, code in DTYPE_CODES.items()
}

Tensors = dict[str, np.ndarray]


class MalformedUpdate(FedstakeError, ValueError):
    """Bytes that are not a canonical tensor set; `reason` is a short machine-readable code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


def _as_array(name: str, value: object) -> np.ndarray:
    """`value` (numpy array or torch tensor) as a numpy array; `MalformedUpdate`
    for anything numpy cannot represent (e.g. torch's bfloat16)."""
    try:
        if hasattr(value, "detach"):  # torch.Tensor without importing torch here
            value = value.detach().cpu().numpy()  # type: ignore[union-attr]
        return np.asarray(value)
    except (TypeError, ValueError, RuntimeError) as exc:
        kind = getattr(value, "dtype", type(value).__name__)
        raise MalformedUpdate("dtype", f"{name}: {kind} is not supported ({exc})") from None


def _check_shape(name: str, shape: tuple[int, ...]) -> None:
    elements = 1
    for dim in shape:
        elements *= max(dim, 1)
        if elements > MAX_ELEMENTS:
            raise MalformedUpdate("shape", f"{name}: dims {list(shape)} exceed {MAX_ELEMENTS}")


def _canonical_parts(tensors: Mapping[str, object]):
    """Yield the canonical byte pieces in order (headers as bytes, data as arrays)."""
    if len(tensors) > MAX_TENSORS:
        raise MalformedUpdate("too_many_tensors", str(len(tensors)))
    yield MAGIC + struct.pack("<BI", VERSION, len(tensors))
    if not all(isinstance(name, str) for name in tensors):
        raise MalformedUpdate("name", "tensor names must be strings")
    try:
        names = sorted(tensors, key=lambda n: n.encode("utf-8"))
    except UnicodeEncodeError:
        raise MalformedUpdate("name", "tensor names must be valid UTF-8") from None
    for name in names:
        array = _as_array(name, tensors[name])
        dtype_name = array.dtype.name
        if dtype_name not in DTYPE_CODES:
            raise MalformedUpdate("dtype", f"{name}: {dtype_name} is not supported")
        name_bytes = name.encode("utf-8")
        if not 0 < len(name_bytes) <= MAX_NAME_BYTES:
            raise MalformedUpdate("name", f"tensor name length {len(name_bytes)}")
        if array.ndim > MAX_NDIM:
            raise MalformedUpdate("shape", f"{name}: {array.ndim} dimensions")
        _check_shape(name, array.shape)
        yield (
            struct.pack("<H", len(name_bytes))
            + name_bytes
            + struct.pack("<BB", DTYPE_CODES[dtype_name], array.ndim)
            + struct.pack(f"<{array.ndim}Q", *array.shape)
        )
        yield np.ascontiguousarray(array, dtype=CODE_DTYPES[DTYPE_CODES[dtype_name]])


def encode_tensors(tensors: Mapping[str, object]) -> bytes:
    """Serialize named tensors (numpy arrays or torch tensors) canonically."""
    return b"".join(
        part if isinstance(part, bytes) else part.tobytes() for part in _canonical_parts(tensors)
    )


def write_tensors(tensors: Mapping[str, object], handle: BinaryIO) -> int:
    """Write the canonical bytes of `tensors` to a binary file object, piece by piece
    (tensor data straight from the arrays: no copy of the whole model). Returns the
    number of bytes written; the bytes equal `encode_tensors(tensors)`."""
    written = 0
    for part in _canonical_parts(tensors):
        data = part if isinstance(part, bytes) else memoryview(part.reshape(-1)).cast("B")
        handle.write(data)
        written += len(data)
    return written


class _Reader:
    def __init__(self, data: bytes) -> None:
        view = memoryview(data).cast("B")
        # A read-only buffer (bytes, a read-only mmap) is viewed in place, so a
        # mapped file is decoded without reading its tensor data; a writable one
        # is copied, so the arrays handed out can never change under the caller.
        self.view = view if view.readonly else memoryview(bytes(view))
        self.pos = 0

    def take(self, n: int, what: str) -> memoryview:
        if n < 0 or self.pos + n > len(self.view):
            raise MalformedUpdate("truncated", f"{what} at byte {self.pos}")
        chunk = self.view[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str, what: str) -> tuple[int, ...]:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), what))


def decode_tensors(data: bytes) -> Tensors:
    """Parse canonical bytes (any buffer); arrays are read-only views of it when it is
    read-only (bytes, a read-only mmap), else of a copy."""
    reader = _Reader(data)
    if bytes(reader.take(4, "magic")) != MAGIC:
        raise MalformedUpdate("magic", "not a fedstake tensor file")
    version, count = reader.unpack("<BI", "header")
    if version != VERSION:
        raise MalformedUpdate("version", f"unsupported version {version}")
    if count > MAX_TENSORS:
        raise MalformedUpdate("too_many_tensors", str(count))
    tensors: Tensors = {}
    previous: bytes | None = None
    for _ in range(count):
        (name_len,) = reader.unpack("<H", "name length")
        if not 0 < name_len <= MAX_NAME_BYTES:
            raise MalformedUpdate("name", f"name length {name_len}")
        name_bytes = bytes(reader.take(name_len, "name"))
        if previous is not None and name_bytes <= previous:
            raise MalformedUpdate("order", "tensor names not strictly ascending")
        previous = name_bytes
        try:
            name = name_bytes.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedUpdate("name", "not UTF-8") from exc
        code, ndim = reader.unpack("<BB", "dtype")
        if code not in CODE_DTYPES:
            raise MalformedUpdate("dtype", f"{name}: unknown dtype code {code}")
        if ndim > MAX_NDIM:
            raise MalformedUpdate("shape", f"{name}: {ndim} dimensions")
        shape = reader.unpack(f"<{ndim}Q", "shape")
        _check_shape(name, shape)
        dtype = CODE_DTYPES[code]
        size = 1
        for dim in shape:
            size *= dim
        nbytes = size * dtype.itemsize
        if nbytes > len(reader.view):
            raise MalformedUpdate("truncated", f"{name}: {nbytes} data bytes announced")
        buffer = reader.take(nbytes, f"{name} data")
        try:
            tensors[name] = np.frombuffer(buffer, dtype=dtype).reshape(shape)
        except ValueError as exc:  # numpy's own limits, should the bound above ever allow more
            raise MalformedUpdate("shape", f"{name}: {exc}") from None
    if reader.pos != len(reader.view):
        raise MalformedUpdate("trailing", f"{len(reader.view) - reader.pos} extra bytes")
    return tensors


def tensors_hash(tensors: Mapping[str, object]) -> bytes:
    """SHA-256 of the canonical bytes of `tensors` (the on-chain hash).

    Streams the pieces into the hash (tensor data straight from the arrays'
    memory) instead of building the whole byte string, so hashing a large
    model costs one read of it and no extra copy.
    """
    digest = hashlib.sha256()
    for part in _canonical_parts(tensors):
        if isinstance(part, bytes):
            digest.update(part)
        elif part.size:
            digest.update(memoryview(part.reshape(-1)).cast("B"))
    return digest.digest()


def canonical_hash(data: bytes) -> bytes:
    """SHA-256 of canonical bytes: an update's `update_hash`, a model's
    `global_model_hash` (32 bytes). Equals `tensors_hash(decode_tensors(data))`."""
    return hashlib.sha256(data).digest()


def update_commitment(update_hash: bytes, wallet: bytes) -> bytes:
    """`sha256(update_hash ‖ wallet)` (32 bytes): what `submit_update` records
    and `reveal_update` opens. `wallet` is the committer's 32-byte public key
    (a `Pubkey` passes as `bytes(pubkey)`). Raises `ValueError` unless both
    are 32 bytes."""
    if len(update_hash) != 32 or len(wallet) != 32:
        raise ValueError("update_commitment takes a 32-byte hash and a 32-byte wallet")
    return hashlib.sha256(bytes(update_hash) + bytes(wallet)).digest()


HASH_READ = 1 << 20


def file_hash(path: str | os.PathLike[str], chunk: int = HASH_READ) -> bytes:
    """SHA-256 of a file of canonical bytes, read `chunk` bytes at a time into one
    reused buffer: memory stays at one chunk whatever the file's size. Equals
    `canonical_hash` of the file's contents. Raises `OSError` if it cannot be read."""
    digest = hashlib.sha256()
    view = memoryview(bytearray(chunk))
    with open(path, "rb", buffering=0) as handle:
        while count := handle.readinto(view):
            digest.update(view[:count])
    return digest.digest()
