"""Where the parts of a pass run: threads in this process, or Ray workers.

A pass (`passes`) cuts the model's coordinates into contiguous parts and runs
one task per part; the task reads every update over its coordinate range and
returns partial results (per-piece statistics, integer partial Gram matrices,
model slices), which the pass combines exactly or in piece order. So the
result never depends on the executor, the number of parts or the order in
which they finish.

`ThreadExecutor` (the default, `workers=n` in a rule) runs the parts on
threads: the kernels release the GIL. `RayExecutor` (`ray_executor`, optional
extra `fedstake[ray]`) runs them as Ray tasks on a cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol, TypeVar

import numpy as np

from .layout import Rows

Part = list[tuple[int, int, int, int]]  # (tensor, start, stop, piece number)
R = TypeVar("R")


@dataclass(frozen=True, kw_only=True)
class Job:
    """What every task of a pass reads: the updates' rows and, for passes that
    produce the model, the base rows and (in-process only) the output arrays the
    task may write into directly (None: return the slices instead)."""

    rows: Sequence[Rows]
    base: Rows | None = None
    out: list[np.ndarray] | None = None


J = TypeVar("J", bound=Job)


class Executor(Protocol):
    """Runs `task(part, job)` for each part; results in part order."""

    parallelism: int
    shares_memory: bool  # tasks can write into job.out

    def map(self, task: Callable[[Part, J], R], parts: list[Part], job: J) -> list[R]: ...


class ThreadExecutor:
    """Parts on up to `workers` threads of this process (inline for one)."""

    shares_memory = True

    def __init__(self, workers: int = 1) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.parallelism = workers

    def map(self, task: Callable[[Part, J], R], parts: list[Part], job: J) -> list[R]:
        if self.parallelism == 1 or len(parts) <= 1:
            return [task(part, job) for part in parts]
        with ThreadPoolExecutor(min(self.parallelism, len(parts))) as pool:
            return list(pool.map(lambda part: task(part, job), parts))


def as_executor(workers: int | Executor) -> Executor:
    """An executor for a rule's `workers` setting (a thread count or an executor)."""
    if isinstance(workers, int):
        return ThreadExecutor(workers)
    return workers


def split_parts(pieces: list[tuple[int, int, int, int]], parts: int) -> list[Part]:
    """Contiguous, nearly equal runs of pieces (coordinate ranges), order kept."""
    parts = max(1, min(parts, len(pieces)))
    bounds = [len(pieces) * p // parts for p in range(parts + 1)]
    return [pieces[bounds[p] : bounds[p + 1]] for p in range(parts) if bounds[p] < bounds[p + 1]]
