"""Updates read from disk chunk by chunk: memory-mapped canonical files.

A round's updates need not fit in memory. `open_update(path)` maps a file of
canonical bytes (docs/canonical-bytes.md) read-only and decodes it in place:
the tensors are views of the mapping, and nothing is read until a pass
touches it. Every pass (`passes`) walks coordinate pieces and, after each
piece, hands the mapped pages it has read back to the kernel
(`Pager.release`, `madvise(MADV_DONTNEED)`): the file stays in the page cache
(the operating system's, reclaimable), but the process's resident memory
holds only the pieces in flight. So the extra memory of a rule is its output
model plus a few pieces per worker, whatever the number of updates
(bench/streaming.py measures it).

`locate(array)` tells where a mapped array lives (path, byte offset), which is
how `ray_executor` lets a worker on another process map the same bytes instead
of receiving them.
"""

from __future__ import annotations

import mmap
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from client_kit.canonical import decode_tensors

from .layout import Rows

PAGE = mmap.PAGESIZE

_paths: dict[int, str] = {}  # id(mmap) -> path, for `locate`
_lock = threading.Lock()


@dataclass
class MappedUpdate:
    """A canonical update file mapped read-only. `tensors` are views of the mapping;
    `close()` (or the context manager) unmaps it once nothing uses them."""

    path: str
    tensors: dict[str, np.ndarray]
    _map: mmap.mmap = field(repr=False)

    def __enter__(self) -> MappedUpdate:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Forget the mapping; the OS unmaps it when the last view is gone."""
        with _lock:
            _paths.pop(id(self._map), None)
        self.tensors = {}


def open_update(path: str | os.PathLike[str]) -> MappedUpdate:
    """Map `path` and decode its canonical bytes without reading the tensor data.

    Raises `client_kit.canonical.MalformedUpdate` for bytes that are not
    canonical (the header is parsed and checked), `OSError` if it cannot be
    read. An empty file is malformed.
    """
    name = os.fspath(Path(path).resolve())
    with open(name, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            decode_tensors(b"")  # an empty file cannot be mapped: raises MalformedUpdate
        mapping = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    tensors = decode_tensors(mapping)
    with _lock:
        _paths[id(mapping)] = name
    return MappedUpdate(name, dict(tensors), mapping)


def _mapping_of(array: np.ndarray) -> mmap.mmap | None:
    base: object = array
    while isinstance(base, np.ndarray):
        base = base.base
    if isinstance(base, memoryview):
        base = base.obj
    return base if isinstance(base, mmap.mmap) else None


def _start_address(mapping: mmap.mmap) -> int:
    return np.frombuffer(mapping, dtype=np.uint8, count=1).ctypes.data


def locate(array: np.ndarray) -> tuple[str, int] | None:
    """(path, byte offset) of a contiguous array that views a mapped update, else None."""
    mapping = _mapping_of(array)
    if mapping is None or not array.flags.c_contiguous:
        return None
    with _lock:
        path = _paths.get(id(mapping))
    if path is None:
        return None
    return path, array.ctypes.data - _start_address(mapping)


class Pager:
    """Drops the mapped pages of rows once a piece of them has been read."""

    def __init__(self, entries: list[tuple[mmap.mmap, list[int]]]) -> None:
        self._entries = entries  # (mapping, byte offset of each tensor's data)

    @classmethod
    def of(cls, rows: Sequence[Rows]) -> Pager | None:
        """A pager for the mapped rows among `rows`, or None if none is mapped."""
        entries = []
        for row in rows:
            mapping = _mapping_of(row[0]) if row else None
            if mapping is None:
                continue
            start = _start_address(mapping)
            entries.append((mapping, [flat.ctypes.data - start for flat in row]))
        return cls(entries) if entries else None

    def release(self, tensor: int, start: int, stop: int, itemsize: int = 4) -> None:
        """Give back the pages under coordinates [start, stop) of one tensor of every
        mapped row (whole pages, so a neighbour piece may fault one back in from the
        page cache: harmless)."""
        for mapping, offsets in self._entries:
            first = offsets[tensor] + start * itemsize
            last = offsets[tensor] + stop * itemsize
            low = first - first % PAGE
            high = min(len(mapping), -(-last // PAGE) * PAGE)
            if high > low:
                mapping.madvise(mmap.MADV_DONTNEED, low, high - low)
