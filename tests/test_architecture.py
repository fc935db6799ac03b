"""The rules of docs/ARCHITECTURE.md that a machine can check: the error root,
which package may import which, one place for pool flows, one hash function,
and the packaged program equal to the build outputs."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import client_kit
import frontend_api
import offchain
from client_kit.errors import FedstakeError

ROOT = Path(__file__).resolve().parents[1]


def _modules(package) -> list[str]:  # type: ignore[no-untyped-def]
    """Python modules of `package` (not client_kit/program/fedstake.so, which
    pkgutil lists as an extension module but is the SBF program)."""
    names = []
    for info in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}."):
        spec = info.module_finder.find_spec(info.name.rsplit(".", 1)[-1])  # type: ignore[call-arg]
        if spec is not None and str(spec.origin).endswith(".py"):
            names.append(info.name)
    return names


def _sources(*folders: str, skip: tuple[str, ...] = ()) -> list[Path]:
    files = []
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if not any(rel.startswith(s) for s in skip):
                files.append(path)
    return files


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def test_every_named_error_derives_from_the_root() -> None:
    strays = []
    for name in _modules(client_kit) + _modules(offchain) + _modules(frontend_api):
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            ours = cls.__module__ == name and issubclass(cls, BaseException)
            if ours and not issubclass(cls, FedstakeError):
                strays.append(f"{name}.{cls.__name__}")
    assert strays == []


@pytest.mark.parametrize(
    ("folder", "skip", "forbidden"),
    [
        # client_kit is the library: it never reaches up, its CLI included
        ("client_kit", (), ("offchain", "frontend_api")),
        # the operator runtime uses the library, not its commands; offchain/cli.py
        # composes the `fedstake` console command from them
        ("offchain", ("offchain/cli.py",), ("frontend_api", "client_kit.cli")),
        # the API builds on both; only frontend_api/cli.py touches the commands (composing them)
        ("frontend_api", ("frontend_api/cli.py",), ("client_kit.cli", "offchain.cli")),
    ],
)
def test_dependencies_point_one_way(folder: str, skip: tuple[str, ...], forbidden) -> None:  # type: ignore[no-untyped-def]
    wrong = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _sources(folder, skip=skip)
        for name in _imports(path)
        if any(name == f or name.startswith(f"{f}.") for f in forbidden)
    ]
    assert wrong == []


def test_the_console_command_is_composed_at_the_top_layer() -> None:
    # `fedstake` = client_kit's commands + offchain's (offchain/cli.py) + `api` (frontend_api)
    scripts = (ROOT / "pyproject.toml").read_text()
    assert 'fedstake = "frontend_api.cli:run"' in scripts
    from frontend_api.cli import app

    commands = {c.name or c.callback.__name__ for c in app.registered_commands}
    groups = {g.name for g in app.registered_groups}
    assert {"submit", "reveal", "claim", "withdraw", "settle", "participate"} <= commands
    assert {"pool", "round", "keys", "task", "api"} <= groups


def test_pool_flows_are_built_only_in_client_kit() -> None:
    # Instructions are assembled in client_kit.instructions and sent by client_kit.actions;
    # every other caller (CLI, offchain, demo, benches, tests) goes through the actions.
    # tests/program drives the raw instructions on purpose (its attack and fixture tests).
    builders = {"client_kit.instructions", "client_kit.pda"}
    wrong = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _sources(
            "client_kit/cli",
            "offchain",
            "frontend_api",
            "scripts",
            "bench",
            "tests",
            skip=("tests/program/",),
        )
        for name in _imports(path)
        if any(name == b or name.startswith(f"{b}.") for b in builders)
    ]
    assert wrong == []


def test_update_and_model_bytes_are_hashed_in_one_place() -> None:
    # canonical_hash / tensors_hash are the hashes of update and model bytes; sha256
    # elsewhere is the payout commitment (keys) and CIDs' multihash (storage.cid);
    # the speed bench times raw hashlib as its baseline.
    allowed = {
        "client_kit/canonical.py",
        "client_kit/keys.py",
        "client_kit/storage/cid.py",
        "bench/aggregation.py",
    }
    wrong = [
        str(path.relative_to(ROOT))
        for path in _sources("client_kit", "offchain", "scripts", "bench")
        if "hashlib.sha256" in path.read_text() and path.relative_to(ROOT).as_posix() not in allowed
    ]
    assert wrong == []


def test_the_packaged_program_is_the_build_output() -> None:
    from importlib.resources import files

    packaged = files("client_kit.program")
    built_so = ROOT / "target" / "deploy" / "fedstake.so"
    for idl in ("fedstake.json", "fedstake.legacy.json"):
        built_idl = ROOT / "target" / "idl" / idl
        assert (packaged / idl).read_bytes() == built_idl.read_bytes(), (
            f"client_kit/program/{idl} differs from target/idl: run `make program`"
        )
    assert (packaged / "fedstake.so").read_bytes() == built_so.read_bytes(), (
        "client_kit/program/fedstake.so differs from target/deploy: run `make program`"
    )
