"""`fedstake` commands as separate OS processes, for the tests that run them
against a validator: one-shot commands (`run_fedstake`) and long-running ones
whose JSON lines are collected as they come (`FedstakeProcess`).

Every process started here is stopped by `FedstakeProcess.kill()`; tests call
it in `finally`, so a failing assertion never leaves a process behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from tests.agents import wait_for

ROOT = Path(__file__).resolve().parents[1]
FEDSTAKE = [sys.executable, "-m", "offchain.cli"]


def run_fedstake(
    args: list[str], env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Runs `fedstake <args>` to its end (no stdin); its exit code, stdout and stderr."""
    return subprocess.run(
        [*FEDSTAKE, *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class FedstakeProcess:
    """One long-running `fedstake <args>` process (restartable with `start()`).

    stdout lines that parse as JSON objects are kept in `lines` (with the run
    they came from); everything on stderr is kept in `stderr`. `key` names
    the field that says what a line is ("event" for `participate --json`).
    """

    name: str
    args: list[str]
    env: dict[str, str]
    key: str = "event"
    lines: list[dict] = field(default_factory=list)
    runs: list[subprocess.Popen] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)

    def start(self) -> None:
        proc = subprocess.Popen(
            [*FEDSTAKE, *self.args],
            env=self.env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.runs.append(proc)
        threading.Thread(target=self._read_out, args=(proc, len(self.runs)), daemon=True).start()
        threading.Thread(target=self._read_err, args=(proc,), daemon=True).start()

    def _read_out(self, proc: subprocess.Popen, run: int) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                parsed = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(parsed, dict):
                self.lines.append({**parsed, "run": run})

    def _read_err(self, proc: subprocess.Popen) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            self.stderr.append(line)

    def of(self, kind: str) -> list[dict]:
        """The collected lines whose `key` field is `kind`."""
        return [line for line in self.lines if line.get(self.key) == kind]

    async def said(self, kind: str, count: int = 1, timeout: float = 180) -> list[dict]:
        """Waits until `count` lines of `kind` were collected; returns them all."""

        async def enough() -> list[dict] | None:
            found = self.of(kind)
            return found if len(found) >= count else None

        return await wait_for(enough, timeout=timeout, poll=0.1)

    async def exit_code(self, timeout: float = 240) -> int:
        """Waits for the latest run to exit; its exit code."""
        return await asyncio.wait_for(asyncio.to_thread(self.runs[-1].wait), timeout)

    def tail(self, lines: int = 20) -> str:
        """The last stderr lines, for an assertion message."""
        return "".join(self.stderr[-lines:])

    def kill(self) -> None:
        """SIGKILLs every run still alive and reaps it."""
        for proc in self.runs:
            if proc.poll() is None:
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
