"""The installed package works outside the checkout: a fresh virtualenv in a
temporary folder, `pip install <checkout>`, then the `fedstake` command runs
the embedded chain from the packaged program and IDL.

To stay fast and offline the fresh venv sees this environment's installed
dependencies through a `.pth` file (a folder of links to them, minus the
checkout's own editable install), so pip finds every requirement satisfied
(`--no-index` proves nothing is downloaded) and installs only fedstake."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
_NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", ".tools", "target", "node_modules", "build", "*.egg-info", "__pycache__",
    ".pytest_cache", ".ruff_cache", ".fedstake",
)  # fmt: skip


def _run(*cmd: str | Path, cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{cmd}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_pip_installed_fedstake_runs_outside_the_checkout(tmp_path: Path) -> None:
    # Given a copy of the checkout (so no build files land in the real one) and a fresh venv
    source = tmp_path / "checkout"
    shutil.copytree(ROOT, source, ignore=_NOT_SOURCES, symlinks=True)
    assert (source / "client_kit" / "program" / "fedstake.so").is_file(), "run `make program`"
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    deps = tmp_path / "deps"
    deps.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if "fedstake" in entry.name.lower() or entry.name.endswith(".pth"):
            continue  # the checkout's editable install must not leak in
        (deps / entry.name).symlink_to(entry)
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    fresh_purelib = Path(
        subprocess.run(
            [venv / "bin" / "python", "-c", purelib], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    (fresh_purelib / "installed_deps.pth").write_text(f"{deps}\n")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("FEDSTAKE_", "PYTHON", "VIRTUAL_ENV"))
    }
    env |= {"HOME": str(outside), "FEDSTAKE_HOME": str(outside / ".fedstake")}
    python = venv / "bin" / "python"

    # When fedstake is pip-installed from the checkout
    _run(
        python, "-m", "pip", "install", "--quiet", "--no-index", "--no-build-isolation", source,
        cwd=outside, env=env,
    )  # fmt: skip

    # Then it imports from the venv, not from the checkout, with both artifacts packaged
    where = _run(
        python, "-c",
        "import client_kit.program as p, client_kit; print(client_kit.__file__); "
        "print(len(p.program_bytes()), len(p.idl_text()))",
        cwd=outside, env=env,
    ).split()  # fmt: skip
    assert where[0].startswith(str(fresh_purelib)), where
    assert int(where[1]) == (ROOT / "target" / "deploy" / "fedstake.so").stat().st_size
    # and `fedstake --url embedded airdrop 1` works from an unrelated folder
    fedstake = venv / "bin" / "fedstake"
    keypair = outside / "id.json"
    _run(fedstake, "keys", "new", "--outfile", keypair, cwd=outside, env=env)
    out = _run(
        fedstake, "--url", "embedded", "airdrop", "1", "--keypair", keypair, "--json",
        cwd=outside, env=env,
    )  # fmt: skip
    assert json.loads(out)["balance"] == "1 SOL"
    assert (outside / ".fedstake" / "embedded-state.json").is_file()
