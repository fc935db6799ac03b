"""Updates read from disk chunk by chunk: canonical files, mapped and read in pieces.

A round's updates need not fit in memory. `open_update(path)` maps a file of
canonical bytes (docs/canonical-bytes.md) read-only and decodes its header in
place: the tensors are views of the mapping, and no tensor data is read.

The passes (`passes`) do not read those views through the mapping, though: a
page fault maps a whole page-cache folio (megabytes on current kernels), so
a hundred updates walked in step would keep hundreds of megabytes mapped.
Instead `Pieces` finds the file behind each mapped row (`locate`) and reads
each piece with `os.preadv` into one small buffer per task: the file stays in
the page cache (the operating system's, reclaimable), and the process holds
only the buffer. So the extra memory of a rule is its output model plus a few
pieces per worker, whatever the number of updates (bench/streaming.py
measures it). Rows already in memory are used in place, without a copy.

`locate` is also how `ray_executor` lets a worker in another process read the
same bytes instead of receiving them.
"""

from __future__ import annotations

import mmap
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from client_kit.canonical import decode_tensors

from .layout import Rows

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
    register_mapping(mapping, name)
    return MappedUpdate(name, dict(tensors), mapping)


def register_mapping(mapping: mmap.mmap, path: str) -> None:
    """Remember which file a read-only mapping shows, for `locate` (and so `Pieces`)."""
    with _lock:
        _paths[id(mapping)] = path


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


class Pieces:
    """Where a task reads one piece of every row: the arrays themselves when all are
    in memory, else a (rows, width) float32 buffer filled with `os.preadv` from the
    files behind the mapped rows (rows in memory are copied into it)."""

    def __init__(self, rows: Sequence[Rows], width: int, row_list: Callable) -> None:
        self._rows = rows
        self._row_list = row_list
        self._lists: dict[int, object] = {}
        located = [[locate(flat) for flat in row] for row in rows]
        self.buffered = any(where is not None for row in located for where in row)
        self._located = located
        self._files: dict[str, int] = {}
        if self.buffered:
            self._buffer = np.empty((len(rows), max(width, 1)), dtype=np.float32)
            self._buffer_list = row_list(list(self._buffer))
            for row in located:
                for where in row:
                    if where is not None and where[0] not in self._files:
                        self._files[where[0]] = os.open(where[0], os.O_RDONLY)

    def get(self, tensor: int, start: int, stop: int) -> tuple[object, int, int]:
        """(rows for the kernel, start, stop) covering coordinates [start, stop)."""
        if not self.buffered:
            if tensor not in self._lists:
                self._lists[tensor] = self._row_list([row[tensor] for row in self._rows])
            return self._lists[tensor], start, stop
        count = stop - start
        for i, row in enumerate(self._rows):
            where = self._located[i][tensor]
            target = self._buffer[i, :count]
            if where is None:
                target[:] = row[tensor][start:stop]
                continue
            path, offset = where
            view = memoryview(target).cast("B")
            position = offset + start * target.itemsize
            while len(view):
                got = os.preadv(self._files[path], [view], position)
                if got <= 0:
                    raise OSError(f"{path}: file shorter than its header says")
                view, position = view[got:], position + got
        return self._buffer_list, 0, count

    def close(self) -> None:
        for handle in self._files.values():
            os.close(handle)
        self._files = {}

    def __enter__(self) -> Pieces:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
