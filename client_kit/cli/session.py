"""What every command needs: settings, keypair, chain gateway and store.

The embedded chain is kept in `<home>/embedded-state.json` between commands,
so `fedstake --url embedded pool create` and a later `pool show` agree.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client_kit.accounts import Pool, decode_account
from client_kit.config import Settings
from client_kit.errors import ChainError
from client_kit.gateway.base import ChainGateway
from client_kit.gateway.embedded import EmbeddedGateway
from client_kit.gateway.factory import open_gateway
from client_kit.instructions import FedstakeInstructions
from client_kit.keys import load_keypair
from client_kit.storage.local import LocalStore

T = TypeVar("T")
LAMPORTS_PER_SOL = 1_000_000_000


class CliError(Exception):
    """A user-facing problem: printed as one line, exit code 1."""


@dataclass
class Session:
    settings: Settings
    as_json: bool = False
    _gateway: ChainGateway | None = field(default=None, repr=False)

    @property
    def state_path(self):
        return self.settings.home / "embedded-state.json"

    def keypair(self) -> Keypair:
        return load_keypair(self.settings.keypair_path)

    def store(self) -> LocalStore:
        if self.settings.store != "local":
            raise CliError(f"store {self.settings.store!r} is not supported by the CLI yet")
        return LocalStore(self.settings.store_dir)

    def gateway(self) -> ChainGateway:
        if self._gateway is None:
            if self.settings.embedded:
                chain = EmbeddedGateway()
                chain.load_state(self.state_path)
                self._gateway = chain
            else:
                self._gateway = open_gateway(self.settings.rpc_url, ws_url=self.settings.ws_url)
        return self._gateway

    def ix(self) -> FedstakeInstructions:
        return FedstakeInstructions(self.gateway().program_id)

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

    async def load_pool(self, pool: Pubkey) -> Pool:
        info = await self.gateway().get_account(pool)
        if info is None or info.owner != self.gateway().program_id:
            raise CliError(f"no fedstake pool at {pool}")
        return decode_account(Pool, info.data)


def parse_pubkey(value: str, what: str = "address") -> Pubkey:
    try:
        return Pubkey.from_string(value)
    except ValueError as exc:
        raise CliError(f"{what} {value!r} is not a base58 public key") from exc


def sol_to_lamports(value: str) -> int:
    try:
        amount = Decimal(value)
    except InvalidOperation as exc:
        raise CliError(f"{value!r} is not an amount of SOL") from exc
    lamports = amount * LAMPORTS_PER_SOL
    if amount < 0 or lamports != lamports.to_integral_value():
        raise CliError(f"{value!r} SOL is not a whole, non-negative number of lamports")
    return int(lamports)


def lamports_to_sol(lamports: int) -> str:
    return f"{Decimal(lamports) / LAMPORTS_PER_SOL:f} SOL"


__all__ = [
    "ChainError",
    "CliError",
    "Session",
    "lamports_to_sol",
    "parse_pubkey",
    "sol_to_lamports",
]
