"""The one async interface every chain backend implements."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client_kit.events import ProgramEvent
from client_kit.gateway.filters import AccountFilter


@dataclass(frozen=True)
class AccountInfo:
    lamports: int
    owner: Pubkey
    data: bytes
    executable: bool = False


@dataclass(frozen=True)
class AccountChange:
    """An account touched by a transaction; `info` is None once closed."""

    pubkey: Pubkey
    info: AccountInfo | None
    slot: int


@dataclass(frozen=True)
class TxResult:
    signature: str
    logs: list[str]
    compute_units: int
    events: list[ProgramEvent] = field(default_factory=list)


class ChainGateway(ABC):
    """Send transactions, read accounts, follow changes, read the clock."""

    program_id: Pubkey

    def __init__(self) -> None:
        self._subscribers: list[asyncio.Queue[AccountChange]] = []

    @abstractmethod
    async def send(
        self, instructions: Sequence[Instruction], signers: Sequence[Keypair]
    ) -> TxResult:
        """Sends one transaction (first signer pays); raises `TransactionFailed`."""

    @abstractmethod
    async def get_account(self, pubkey: Pubkey) -> AccountInfo | None: ...

    @abstractmethod
    async def program_accounts(
        self, filters: Sequence[AccountFilter] = ()
    ) -> list[tuple[Pubkey, AccountInfo]]:
        """The accounts the program owns that pass every filter (all without
        filters); `getProgramAccounts` semantics on every backend."""

    @abstractmethod
    async def unix_time(self) -> int: ...

    @abstractmethod
    async def airdrop(self, pubkey: Pubkey, lamports: int) -> None: ...

    async def get_balance(self, pubkey: Pubkey) -> int:
        info = await self.get_account(pubkey)
        return info.lamports if info else 0

    def subscribe(self) -> asyncio.Queue[AccountChange]:
        """A queue receiving every change to program-owned accounts."""
        queue: asyncio.Queue[AccountChange] = asyncio.Queue()
        self._subscribers.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[AccountChange]) -> None:
        if queue in self._subscribers:
            self._subscribers.remove(queue)

    def _publish(self, change: AccountChange) -> None:
        for queue in list(self._subscribers):
            queue.put_nowait(change)

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Releases connections; the embedded backend has none."""
