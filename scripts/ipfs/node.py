"""Run a real IPFS node (kubo) on loopback from Python, e.g. in a pytest fixture.

    from scripts.ipfs.node import KuboNode

    with KuboNode.started(tmp_path / "ipfs") as node:
        store = IpfsHttpStore(node.api_url)
        ...

The binary comes from ``scripts/ipfs/install.sh`` (kubo built from the Go
module proxy, cached under ``.tools/``). The node gets its own repository
folder, the ``test`` profile, API and gateway on free loopback ports, no swarm
listeners and no bootstrap peers, and runs ``daemon --offline``: nothing
leaves the machine. ``stop()`` / ``start()`` restart it on the same
repository and ports, so pinned content survives a restart.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
INSTALL = HERE / "install.sh"


class KuboUnavailable(RuntimeError):
    """kubo cannot be built here (no Go toolchain) or its build failed."""


class KuboStartError(RuntimeError):
    """The daemon was launched but its API did not answer in time."""


def unavailable_reason() -> str | None:
    """Why kubo cannot be built or run here, or None if it can."""
    if shutil.which("go") is None and not any((HERE.parent.parent / ".tools").glob("kubo-*/ipfs")):
        return "go is not installed (scripts/ipfs/install.sh builds kubo from the Go module proxy)"
    return None


def ensure_binary(timeout: float = 1800) -> Path:
    """Path of the pinned kubo binary, building it first when needed (install.sh)."""
    reason = unavailable_reason()
    if reason:
        raise KuboUnavailable(reason)
    proc = subprocess.run(
        ["bash", str(INSTALL)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise KuboUnavailable(f"{INSTALL} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return Path(proc.stdout.strip().splitlines()[-1])


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on `host` right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class KuboNode:
    """One kubo daemon with its own repository, reachable at `api_url`.

    `repo` is the IPFS_PATH folder (created and initialised on first start).
    Raises `KuboUnavailable` when the binary cannot be had, `KuboStartError`
    (with the log tail) when the API does not answer within `timeout` seconds.
    """

    def __init__(self, repo: Path, binary: Path | None = None, *, timeout: float = 60) -> None:
        self.repo = Path(repo)
        self.binary = binary or ensure_binary()
        self.timeout = timeout
        self.api_port = free_port()
        self.gateway_port = free_port()
        self.log_path = self.repo.parent / f"{self.repo.name}.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def cli(self, *args: str, input: bytes | None = None, timeout: float = 120) -> bytes:
        """Runs `ipfs <args>` on this node's repository; returns stdout as bytes.

        Raises RuntimeError with kubo's stderr when the command fails.
        """
        proc = subprocess.run(
            [str(self.binary), *args],
            env={**os.environ, "IPFS_PATH": str(self.repo)},
            input=input,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"ipfs {' '.join(args)}: {proc.stderr.decode(errors='replace')}")
        return proc.stdout

    def _init(self) -> None:
        if (self.repo / "config").is_file():
            return
        self.repo.mkdir(parents=True, exist_ok=True)
        self.cli("init", "--profile=test", "--empty-repo")
        for key, value in [
            ("Addresses.API", f"/ip4/127.0.0.1/tcp/{self.api_port}"),
            ("Addresses.Gateway", f"/ip4/127.0.0.1/tcp/{self.gateway_port}"),
            ("Addresses.Swarm", []),
            ("Bootstrap", []),
        ]:
            self.cli("config", "--json", key, json.dumps(value))

    def _answers(self) -> bool:
        request = urllib.request.Request(f"{self.api_url}/api/v0/id", method="POST")
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                return response.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def start(self) -> None:
        """Starts the daemon (initialising the repository once) and waits for its API."""
        if self.running():
            return
        self._init()
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                [str(self.binary), "daemon", "--offline"],
                env={**os.environ, "IPFS_PATH": str(self.repo)},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + self.timeout
        while not self._answers():
            if self._proc.poll() is not None:
                code = self._proc.returncode
                raise KuboStartError(f"kubo exited with {code}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise KuboStartError(f"kubo API not up within {self.timeout}s:\n{self.log_tail()}")
            time.sleep(0.1)

    def stop(self, timeout: float = 20) -> None:
        """Stops the daemon (SIGTERM, then SIGKILL); the repository stays."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    @classmethod
    @contextmanager
    def started(cls, repo: Path, **kwargs: float) -> Iterator[KuboNode]:
        """`with KuboNode.started(path) as node:` — a running node, stopped on exit."""
        node = cls(repo, **kwargs)  # type: ignore[arg-type]
        node.start()
        try:
            yield node
        finally:
            node.stop()
