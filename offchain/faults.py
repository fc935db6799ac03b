"""Fault injection for crash tests: the operator SIGKILLs itself at a named step.

`FEDSTAKE_FAULT=<point>[:<n>]` in the environment makes `checkpoint(point)`
kill the process (SIGKILL: no cleanup, no flush, exactly like `kill -9`)
the n-th time (default the first) the point is reached. Points the
coordinator passes, in round order:

    after_fetch      the round's inputs gathered and judged, nothing journaled
    after_verdict    a verdict's transaction landed (n: after the n-th)
    after_store      the global model and round record stored
    before_finalize  just before `finalize_round` is sent

Unset (always, outside the crash tests), `checkpoint` only counts.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

ENV = "FEDSTAKE_FAULT"
POINTS = ("after_fetch", "after_verdict", "after_store", "before_finalize")
_reached: Counter[str] = Counter()


def parse(spec: str | None) -> tuple[str, int] | None:
    """`"after_verdict:2"` → ("after_verdict", 2); None for an empty spec.
    Raises ValueError for an unknown point or a count below 1."""
    if not spec:
        return None
    point, _, count = spec.partition(":")
    if point not in POINTS:
        raise ValueError(f"{ENV}: unknown fault point {point!r} (one of {', '.join(POINTS)})")
    n = int(count) if count else 1
    if n < 1:
        raise ValueError(f"{ENV}: the count must be at least 1")
    return point, n


def checkpoint(point: str) -> None:
    """Marks that the process reached `point`; SIGKILLs it if `FEDSTAKE_FAULT` says so."""
    _reached[point] += 1
    fault = parse(os.environ.get(ENV))
    if fault is not None and fault == (point, _reached[point]):
        os.kill(os.getpid(), signal.SIGKILL)
