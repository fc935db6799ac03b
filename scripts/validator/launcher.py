"""Start a real local Solana validator (Surfpool) from Python, e.g. in a pytest fixture.

    from scripts.validator.launcher import start_validator

    rpc_url, ws_url, stop = start_validator("target/deploy/fedstake.so", PROGRAM_ID)
    try:
        ...  # solana.rpc.async_api.AsyncClient(rpc_url), websocket_api.connect(ws_url)
    finally:
        stop()

It runs the same command as ``scripts/validator/start.sh`` (``node surfnet.js``:
Surfpool's npm runtime, offline, bound to 127.0.0.1, program deployed at the
given id), installs the pinned npm package first if needed, waits for
``getHealth`` with a timeout and, on failure, raises with the tail of the log.
The runner also exits by itself if the Python process that started it dies.

``port=None`` (the default) picks a free port pair so parallel runs do not
collide; pass ``port=8899`` for the conventional one (websocket on port + 1).

Users with the Solana CLI get the same chain shape with:
    solana-test-validator --reset --bind-address 127.0.0.1 --rpc-port 8899 \\
        --bpf-program <PROGRAM_ID> target/deploy/fedstake.so
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RUNNER = HERE / "surfnet.js"
INSTALL = HERE / "install.sh"
PACKAGE = "@solana/surfpool-linux-x64-gnu"


class ValidatorUnavailable(RuntimeError):
    """The validator cannot run on this machine (no node/npm, wrong platform)."""


class ValidatorStartError(RuntimeError):
    """The validator was launched but did not become ready."""


def unavailable_reason() -> str | None:
    """Why Surfpool cannot run here, or None if it can (node and npm present)."""
    if shutil.which("node") is None:
        return "node is not installed (Surfpool's validator runs inside Node.js >= 18)"
    if shutil.which("npm") is None and not (HERE / "node_modules" / PACKAGE).is_dir():
        return "npm is not installed (needed once to install " + PACKAGE + ")"
    if os.uname().sysname != "Linux" or os.uname().machine != "x86_64":
        return f"{PACKAGE} only runs on linux x86_64"
    return None


def ensure_installed(timeout: float = 600) -> None:
    """Run install.sh (quick when the pinned version is already installed)."""
    reason = unavailable_reason()
    if reason:
        raise ValidatorUnavailable(reason)
    proc = subprocess.run(
        ["bash", str(INSTALL)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise ValidatorUnavailable(
            f"{INSTALL} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}".rstrip()
        )


def free_port_pair(host: str = "127.0.0.1", attempts: int = 50) -> int:
    """A port p such that p and p + 1 are both free on host right now."""
    for _ in range(attempts):
        with socket.socket() as a:
            a.bind((host, 0))
            port = a.getsockname()[1]
            if port >= 65535:
                continue
            with socket.socket() as b:
                try:
                    b.bind((host, port + 1))
                except OSError:
                    continue
                return port
    raise ValidatorStartError("no free pair of consecutive ports on 127.0.0.1")


def _rpc_ok(rpc_url: str, timeout: float = 2.0) -> bool:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "getHealth"}).encode()
    req = urllib.request.Request(
        rpc_url, data=body, headers={"content-type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.load(resp).get("result") == "ok"
    except (OSError, ValueError):
        return False


class Stopper:
    """Callable that stops the validator; also carries what start-up reported."""

    def __init__(self, proc: subprocess.Popen[bytes], workdir: Path, log_path: Path) -> None:
        self.proc = proc
        self.pid = proc.pid
        self.workdir = workdir
        self.log_path = log_path
        self.info: dict[str, Any] = {}

    @property
    def payer_keypair_path(self) -> Path:
        """Solana-CLI keypair file of the payer funded at genesis."""
        return Path(self.info["payer_keypair_path"])

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def running(self) -> bool:
        return self.proc.poll() is None

    def __call__(self, timeout: float = 15) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


def start_validator(
    so_path: str | os.PathLike[str] | None,
    program_id: str | None,
    port: int | None = None,
    workdir: str | os.PathLike[str] | None = None,
    *,
    ws_port: int | None = None,
    timeout: float = 60,
    block_production_mode: str = "clock",
    slot_time_ms: int = 400,
) -> tuple[str, str, Stopper]:
    """Start Surfpool with ``so_path`` deployed at ``program_id``.

    Returns ``(rpc_url, ws_url, stop)``; ``stop()`` terminates the validator
    (``stop.info`` holds ready.json: payer, versions, start-up time). Pass
    ``so_path=None, program_id=None`` for a chain with no extra program.
    Raises ValidatorUnavailable when node/npm are missing, ValidatorStartError
    (with the log tail) when it does not become ready within ``timeout`` s.
    """
    if (so_path is None) != (program_id is None):
        raise ValueError("so_path and program_id go together")
    ensure_installed()
    if workdir is None:
        workdir = tempfile.mkdtemp(prefix="fedstake-validator-")
    wd = Path(workdir).resolve()
    wd.mkdir(parents=True, exist_ok=True)
    if port is None:
        port = free_port_pair()
    if ws_port is None:
        ws_port = 0 if port == 0 else port + 1

    cmd = [
        shutil.which("node") or "node",
        str(RUNNER),
        "--workdir", str(wd),
        "--port", str(port),
        "--ws-port", str(ws_port),
        "--block-production-mode", block_production_mode,
        "--slot-time-ms", str(slot_time_ms),
        "--parent-pid", str(os.getpid()),
    ]  # fmt: skip
    if so_path is not None:
        so = Path(so_path).resolve()
        if not so.is_file():
            raise FileNotFoundError(so)
        cmd += ["--program-id", str(program_id), "--so", str(so)]

    ready_file = wd / "ready.json"
    ready_file.unlink(missing_ok=True)
    log_path = wd / "surfnet.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=HERE
        )
    stop = Stopper(proc, wd, log_path)
    (wd / "validator.pid").write_text(f"{proc.pid}\n")

    deadline = time.monotonic() + timeout
    try:
        while True:
            if proc.poll() is not None:
                raise ValidatorStartError(
                    f"validator exited with {proc.returncode} during start-up; "
                    f"log {log_path}:\n{stop.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise ValidatorStartError(
                    f"validator not ready within {timeout}s; log {log_path}:\n{stop.log_tail()}"
                )
            if ready_file.is_file():
                try:
                    stop.info = json.loads(ready_file.read_text())
                except ValueError:
                    stop.info = {}
                if stop.info and _rpc_ok(stop.info["rpc_url"]):
                    return stop.info["rpc_url"], stop.info["ws_url"], stop
            time.sleep(0.1)
    except BaseException:
        stop()
        raise


@contextmanager
def running_validator(
    so_path: str | os.PathLike[str] | None, program_id: str | None, **kwargs: Any
) -> Iterator[tuple[str, str, Stopper]]:
    """``with running_validator(so, pid) as (rpc_url, ws_url, stop): ...``"""
    rpc_url, ws_url, stop = start_validator(so_path, program_id, **kwargs)
    try:
        yield rpc_url, ws_url, stop
    finally:
        stop()
