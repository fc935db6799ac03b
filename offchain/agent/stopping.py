"""Graceful stop on SIGINT and SIGTERM for a long-running coroutine.

Services that follow the chain run until their work is done or they are
told to stop. `until_signal` runs one coroutine as a task and turns SIGINT
(Ctrl-C) and SIGTERM (a service manager, `kill`) into a cancellation of that
task, so it stops between two awaits, runs its `finally` blocks and leaves
nothing half-written that it journaled. It returns which signal stopped it.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass(frozen=True)
class Stopped(Generic[T]):
    """How a run ended: its result, or the signal that cancelled it (result None)."""

    result: T | None
    signal: signal.Signals | None = None


async def until_signal(work: Coroutine[Any, Any, T]) -> Stopped[T]:
    """Runs `work` until it returns, or until SIGINT/SIGTERM cancels it.

    Exceptions `work` raises propagate. Signal handlers are installed on the
    running loop (main thread, Unix) and the previous ones restored
    afterwards; where the loop cannot install them, the default behaviour
    stays (Ctrl-C raises KeyboardInterrupt).
    """
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(work)
    received: list[signal.Signals] = []

    def stop(signum: signal.Signals) -> None:
        received.append(signum)
        task.cancel()

    installed = {}  # signal → the Python-level handler it had before
    for signum in STOP_SIGNALS:
        previous = signal.getsignal(signum)
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop, signum)
            installed[signum] = previous
    try:
        return Stopped(await task)
    except asyncio.CancelledError:
        if not received:
            raise  # cancelled from outside, not by a signal
        return Stopped(None, received[0])
    finally:
        for signum, previous in installed.items():
            loop.remove_signal_handler(signum)
            if previous is not None:  # e.g. asyncio.run's own Ctrl-C handler
                signal.signal(signum, previous)
