"""Runs `fedstake` the way users do: one subprocess per command, global
options after the subcommand, the embedded chain in a state file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from client_kit.gateway.embedded import EmbeddedGateway
from client_kit.storage.local import LocalStore


class Cli:
    def __init__(self, home: Path, url: str = "embedded") -> None:
        self.home = home
        self.env = {**os.environ, "FEDSTAKE_HOME": str(home), "FEDSTAKE_URL": url}

    def run(
        self, keypair: Path | None, *args: str, as_json: bool = True
    ) -> subprocess.CompletedProcess[str]:
        # global options go after the subcommand, as the solana CLI allows
        cmd = [sys.executable, "-m", "frontend_api.cli", *args, *(["--json"] if as_json else [])]
        if keypair is not None:
            cmd += ["--keypair", str(keypair)]
        return subprocess.run(
            cmd, env=self.env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
        )

    def ok(self, keypair: Path | None, *args: str) -> dict:
        done = self.run(keypair, *args)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def fails(self, keypair: Path | None, *args: str, match: str) -> str:
        state = self.state_bytes()
        done = self.run(keypair, *args)
        assert done.returncode == 1, (done.stdout, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
        assert match in lines[0], lines[0]
        assert self.state_bytes() == state, "a failed command changed the chain"
        return lines[0]

    def state_bytes(self) -> bytes:
        path = self.home / "embedded-state.json"
        return path.read_bytes() if path.exists() else b""

    def chain(self) -> EmbeddedGateway:
        chain = EmbeddedGateway()
        chain.load_state(self.home / "embedded-state.json")
        return chain

    def save(self, chain: EmbeddedGateway) -> None:
        chain.save_state(self.home / "embedded-state.json")

    def store(self) -> LocalStore:
        return LocalStore(self.home / "store")
