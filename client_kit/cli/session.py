"""What every command needs: settings, keypair, chain gateway, store, and
the small parsers that turn command-line text into typed values.

The embedded chain is kept in `<home>/embedded-state.json` between commands,
so `fedstake --url embedded pool create` and a later `pool show` agree. The
state is saved only after a command succeeded, so a failed command leaves the
chain as it was.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client_kit.amounts import format_sol, parse_sol
from client_kit.config import Settings
from client_kit.errors import InvalidInput
from client_kit.gateway.base import ChainGateway
from client_kit.gateway.embedded import EmbeddedGateway
from client_kit.gateway.factory import open_gateway
from client_kit.keys import load_keypair
from client_kit.storage import open_store
from client_kit.storage.base import ContentStore, ProgressCallback

T = TypeVar("T")

__all__ = [
    "Session",
    "format_sol",
    "parse_pubkey",
    "parse_sol",
    "read_input_file",
]


@dataclass
class Session:
    settings: Settings
    as_json: bool = False
    _gateway: ChainGateway | None = field(default=None, repr=False)

    @property
    def state_path(self) -> Path:
        return self.settings.home / "embedded-state.json"

    def keypair(self) -> Keypair:
        return load_keypair(self.settings.keypair_path)

    def store(self) -> ContentStore:
        return open_store(self.settings.store, home=self.settings.home)

    def gateway(self) -> ChainGateway:
        if self._gateway is None:
            if self.settings.embedded:
                chain = EmbeddedGateway()
                chain.load_state(self.state_path)
                self._gateway = chain
            else:
                assert self.settings.rpc_url is not None
                self._gateway = open_gateway(self.settings.rpc_url, ws_url=self.settings.ws_url)
        return self._gateway

    def run(self, coro: Awaitable[T]) -> T:
        """Runs one async step and, on the embedded chain, saves its state."""

        async def wrapped() -> T:
            try:
                return await coro
            finally:
                if self._gateway is not None and not self.settings.embedded:
                    await self._gateway.close()

        result = asyncio.run(wrapped())
        if isinstance(self._gateway, EmbeddedGateway):
            self._gateway.save_state(self.state_path)
        return result

    @contextmanager
    def progress(self, label: str) -> Iterator[ProgressCallback]:
        """A transfer progress bar (hidden with --json) and its callback."""
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

        columns = (TextColumn(label), BarColumn(), DownloadColumn())
        with Progress(*columns, transient=True, disable=self.as_json) as bar:
            job = bar.add_task(label, total=None)

            def on_progress(done: int, total: int) -> None:
                bar.update(job, completed=done, total=total if total >= 0 else None)

            yield on_progress


def parse_pubkey(value: str, what: str = "address") -> Pubkey:
    """A base58 public key; `InvalidInput` naming `what` otherwise."""
    try:
        return Pubkey.from_string(value)
    except ValueError as exc:
        raise InvalidInput(f"{what} {value!r} is not a base58 public key") from exc


def read_input_file(path: Path, what: str, parse: Callable[[bytes], T] | None = None) -> T | bytes:
    """The bytes of a file the user named (parsed by `parse` if given);
    `InvalidInput` naming `what` when it cannot be read."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InvalidInput(f"{what}: no file at {path}") from None
    except IsADirectoryError:
        raise InvalidInput(f"{what}: {path} is a directory") from None
    except OSError as exc:
        raise InvalidInput(f"{what}: cannot read {path}: {exc.strerror}") from None
    return parse(data) if parse is not None else data
