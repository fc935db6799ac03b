"""Chunk kernels of the aggregation passes: compiled (numba) or numpy, same bits.

Every pass (`passes`) walks coordinate pieces and calls one of these kernels
on a piece of every update at once. Two implementations with one contract:

- `compiled` — numba (a dependency of fedstake): finiteness, max |x|, the
  norm and the fixed-point sum in one read of each piece, vectorized Gram
  tiles, sorting networks for the coordinate-wise rules.
- `reference` — numpy only; the documented fallback when numba cannot be
  imported (e.g. a Python numba does not support yet), several times slower.

`FEDSTAKE_KERNELS=numpy` forces the fallback; `using("numpy")` switches in a
test. tests/aggregation/test_kernels.py holds both to the same bits.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType

import numpy as np

from . import reference

__all__ = ["active", "available", "name", "row_list", "using"]

_BACKENDS: dict[str, ModuleType] = {"numpy": reference}
try:
    from numba import typed as _typed

    from . import compiled

    _BACKENDS["numba"] = compiled
except ImportError as exc:  # pragma: no cover - exercised only where numba is missing
    warnings.warn(
        f"numba unavailable ({exc}); aggregation uses the slower numpy kernels", stacklevel=1
    )

_requested = os.environ.get("FEDSTAKE_KERNELS", "numba")
_active: str = _requested if _requested in _BACKENDS else "numpy"


def available() -> list[str]:
    """Names of the kernel backends that can run here ("numba", "numpy")."""
    return sorted(_BACKENDS)


def name() -> str:
    """The backend in use."""
    return _active


def active() -> ModuleType:
    """The module whose kernels the passes call."""
    return _BACKENDS[_active]


@contextmanager
def using(backend: str) -> Iterator[None]:
    """Run a block with another backend (`KeyError` if it is not available)."""
    global _active
    module = _BACKENDS[backend]  # noqa: F841 - raises for an unknown backend
    previous, _active = _active, backend
    try:
        yield
    finally:
        _active = previous


def row_list(arrays: Sequence[np.ndarray]) -> object:
    """The per-update 1-D float32 arrays of one tensor, as the backend takes them
    (a numba typed list; read-only if any of them is, since a typed list holds
    one array type)."""
    if _active != "numba":
        return list(arrays)
    if any(not a.flags.writeable for a in arrays):
        views = []
        for array in arrays:
            view = array.view()
            view.flags.writeable = False
            views.append(view)
        arrays = views
    return _typed.List(arrays)
