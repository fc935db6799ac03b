"""The compiled program and its IDL, shipped inside the package.

`make program` (scripts/build_program.sh) writes the build outputs users
expect, `target/deploy/fedstake.so` and `target/idl/fedstake.json`, and copies
both here, so an installed `fedstake` finds them through
`importlib.resources` wherever it runs, not through the repository's path. The
legacy-format IDL for anchorpy 0.21 (`fedstake.legacy.json`) ships here too,
as package data only. A test checks these copies equal the build outputs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import as_file, files
from pathlib import Path

from client_kit.errors import FedstakeError

IDL_FILE = "fedstake.json"
SO_FILE = "fedstake.so"


class ProgramArtifactMissing(FedstakeError, FileNotFoundError):
    """The package holds no built program or IDL (run `make program`, then reinstall)."""


def _resource(name: str):  # type: ignore[no-untyped-def]
    resource = files(__name__) / name
    if not resource.is_file():
        raise ProgramArtifactMissing(
            f"{name} is not in the installed fedstake package: run `make program` in the "
            "checkout, then install it again"
        )
    return resource


def idl_text() -> str:
    """The Anchor IDL (JSON text) of the program this package was built with."""
    return _resource(IDL_FILE).read_text(encoding="utf-8")


def program_bytes() -> bytes:
    """The compiled SBF program (`fedstake.so`)."""
    return _resource(SO_FILE).read_bytes()


@contextmanager
def program_path() -> Iterator[Path]:
    """A file system path of `fedstake.so` (for a validator that loads it from disk)."""
    with as_file(_resource(SO_FILE)) as path:
        yield Path(path)
