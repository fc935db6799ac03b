"""Scale-out on Ray: the same passes, sharded over coordinate ranges across a cluster.

Optional (`pip install 'fedstake[ray]'`); nothing else in fedstake imports
Ray. A rule given `workers=RayExecutor(...)` runs each pass (`passes`) as one
Ray task per contiguous coordinate range. Each task reads every update over
its range and returns partial results — per-piece statistics, partial Gram
matrices (exact integers, summed by the driver), model slices — which the
driver combines exactly as it does for threads, so the global model, every
verdict and every score are bit-identical to a single-process run
(tests/aggregation/test_ray.py). The rule's own logic (screens, Krum scores,
cosines, rewards) is N-sized and stays in the driver.

How updates reach the workers: rows of memory-mapped canonical files
(`mapped.open_update`) travel as (path, byte offset, length) and each worker
reads the same file itself, piece by piece — so on a multi-node cluster the
round's files must be at the same path on every node (a shared filesystem,
or each node fetching the round's CIDs into the same folder first). Rows in
memory (the base model, a reference update, tests' arrays) travel through
Ray's object store, once per pass.
"""

from __future__ import annotations

import mmap
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

import numpy as np

from .executor import Job, Part
from .layout import Rows
from .mapped import locate, register_mapping

try:
    import ray
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "RayExecutor needs Ray: install the optional extra, pip install 'fedstake[ray]'"
    ) from exc

R = TypeVar("R")
J = TypeVar("J", bound=Job)


@dataclass(frozen=True)
class FileRow:
    """A float32 row living in a canonical file: where a worker reads it itself."""

    path: str
    offset: int
    size: int


_maps: dict[str, mmap.mmap] = {}  # per worker process: path -> read-only mapping
_maps_lock = threading.Lock()


def _encode_row(row: Rows) -> list[np.ndarray | FileRow]:
    out: list[np.ndarray | FileRow] = []
    for flat in row:
        where = locate(flat)
        out.append(flat if where is None else FileRow(where[0], where[1], flat.size))
    return out


def _decode_flat(item: np.ndarray | FileRow) -> np.ndarray:
    if isinstance(item, np.ndarray):
        return item
    with _maps_lock:
        mapping = _maps.get(item.path)
        if mapping is None:
            with open(item.path, "rb") as handle:
                mapping = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
            register_mapping(mapping, item.path)
            _maps[item.path] = mapping
    return np.frombuffer(memoryview(mapping), np.float32, item.size, item.offset)


def _encode(job: Job) -> Job:
    rows = [_encode_row(row) for row in job.rows]
    return replace(job, rows=rows, out=None)


def _decode(job: Job) -> Job:
    rows = [[_decode_flat(item) for item in row] for row in job.rows]
    return replace(job, rows=rows)


@ray.remote
def _run_part(task: Callable, part: Part, job: Job):
    return task(part, _decode(job))


class RayExecutor:
    """Runs each pass as `parts` Ray tasks (default: the cluster's CPU count).

    Connects with `ray.init(address)` if Ray is not initialized yet (None: start a
    local Ray, or join the cluster named by RAY_ADDRESS). Each task asks for
    `cpus_per_part` CPUs; inside it the kernels run on one thread.
    """

    shares_memory = False

    def __init__(
        self, parts: int | None = None, *, address: str | None = None, cpus_per_part: float = 1
    ) -> None:
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.parallelism = parts if parts is not None else max(1, cpus)
        if self.parallelism < 1:
            raise ValueError("parts must be at least 1")
        self._remote = _run_part.options(num_cpus=cpus_per_part)

    def map(self, task: Callable[[Part, J], R], parts: list[Part], job: J) -> list[R]:
        shipped = ray.put(_encode(job))
        return ray.get([self._remote.remote(task, part, shipped) for part in parts])

