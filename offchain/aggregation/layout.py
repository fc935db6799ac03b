"""Tensor layout of a model and the coordinate chunks every pass walks.

Rules see an update as one list of 1-D float32 views (one per tensor, in the
canonical name order), so no pass ever concatenates a whole model. Passes
walk `segments`: pieces of at most `chunk` coordinates that never cross a
tensor boundary, small enough to stay in cache while N updates touch them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from offchain.errors import InvalidRoundInput

from .types import Tensors

Rows = list[np.ndarray]  # one update as 1-D float32 views, in Layout order


@dataclass(frozen=True)
class Layout:
    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]

    @classmethod
    def of(cls, base: Mapping[str, np.ndarray]) -> Layout:
        """Layout of the base model; every tensor must be float32."""
        names = tuple(sorted(base, key=lambda n: n.encode("utf-8")))
        for name in names:
            if np.asarray(base[name]).dtype != np.float32:
                raise InvalidRoundInput(f"base tensor {name!r} is not float32")
        return cls(names, tuple(tuple(np.shape(base[n])) for n in names))

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(int(np.prod(shape, dtype=np.int64)) for shape in self.shapes)

    @property
    def size(self) -> int:
        return sum(self.sizes)

    def rows(self, tensors: Mapping[str, np.ndarray]) -> Rows:
        """Flat float32 views of `tensors` (copies only if not contiguous float32)."""
        return [
            np.ascontiguousarray(tensors[name], dtype=np.float32).reshape(-1) for name in self.names
        ]

    def tensors(self, flats: list[np.ndarray]) -> Tensors:
        """Named float32 tensors from per-tensor flat arrays."""
        return {
            name: np.asarray(flat, dtype=np.float32).reshape(shape)
            for name, shape, flat in zip(self.names, self.shapes, flats, strict=True)
        }

    def segments(self, chunk: int) -> Iterator[tuple[int, int, int]]:
        """(tensor index, start, stop) pieces of at most `chunk` coordinates."""
        for index, size in enumerate(self.sizes):
            for start in range(0, size, chunk):
                yield index, start, min(size, start + chunk)


def apply_delta(layout: Layout, base: Mapping[str, np.ndarray], delta: list[np.ndarray]) -> Tensors:
    """base + delta (float64 per tensor, layout order), added in float64 and rounded
    once to float32 (element-wise, hence reproducible)."""
    flats = [
        (np.asarray(base[name], dtype=np.float64).reshape(-1) + change).astype(np.float32)
        for name, change in zip(layout.names, delta, strict=True)
    ]
    return layout.tensors(flats)


def split_evenly(items: list, parts: int) -> list[list]:
    """Contiguous, nearly equal parts (for thread workers; order is kept)."""
    parts = max(1, min(parts, len(items)))
    bounds = [len(items) * p // parts for p in range(parts + 1)]
    return [items[bounds[p] : bounds[p + 1]] for p in range(parts)]
