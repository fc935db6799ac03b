"""Setting up and running Anchor's own clients from pytest.

Each client lives outside the project venv: `@coral-xyz/anchor` under
`tests/anchor_ts/node_modules` (npm ci), anchorpy 0.21 in `.tools/anchorpy-venv`
(it pins an older solana-py than ours). Their install scripts are idempotent
and quick when done; a test skips, with the script's own explanation, only when
they cannot set up (no node/npm, no PyPI or npm registry, no python venv).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ANCHOR_TS = ROOT / "tests" / "anchor_ts"
ANCHORPY = ROOT / "tests" / "anchorpy"
ANCHORPY_VENV = Path(os.environ.get("ANCHORPY_VENV", ROOT / ".tools" / "anchorpy-venv"))
IDL = ROOT / "target" / "idl" / "fedstake.json"
LEGACY_IDL = ROOT / "target" / "idl" / "fedstake.legacy.json"


def install_or_skip(script: str, what: str) -> None:
    """Runs `scripts/anchor_clients/<script>`; skips the test with its reason if it fails."""
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "anchor_clients" / script)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if proc.returncode != 0:
        reason = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
        pytest.skip(f"{what} cannot be set up here: {reason[0]}")


def run(argv: list[str | Path], env: dict[str, str] | None = None, timeout: float = 300) -> str:
    """Runs a client program; fails the test with its output unless it exits 0."""
    proc = subprocess.run(
        [str(a) for a in argv],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert proc.returncode == 0, f"{argv[0]} {argv[1]} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout
