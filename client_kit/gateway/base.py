"""The one async interface every chain backend implements.

Gateways are transport only: they send, read and list, and the rpc gateway
opens subscriptions; following the chain over time (reconnects, backfill,
ordering, dedup) is `offchain.watcher`'s job.
"""

from __future__ import annotations

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
class LandedTransaction:
    """A transaction as the chain recorded it.

    `index` is its position within `slot` (None when the source does not say,
    e.g. `getTransaction`). `writable` lists the writable accounts that did not
    sign: program-owned accounts never sign a transaction, so these are the
    ones whose program state it may have changed. `changes` holds the
    program accounts it changed, when the backend knows them (embedded: yes;
    rpc: empty, read them back). `failed` transactions changed nothing.
    """

    signature: str
    slot: int
    index: int | None
    logs: tuple[str, ...]
    failed: bool = False
    writable: tuple[Pubkey, ...] = ()
    changes: tuple[AccountChange, ...] = ()


@dataclass(frozen=True)
class TxResult:
    signature: str
    logs: list[str]
    compute_units: int
    events: list[ProgramEvent] = field(default_factory=list)


class ChainGateway(ABC):
    """Send transactions, read accounts, follow changes, read the clock."""

    program_id: Pubkey

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

    async def get_accounts(self, pubkeys: Sequence[Pubkey]) -> list[AccountInfo | None]:
        """`get_account` for each key, in order (rpc: `getMultipleAccounts`)."""
        return [await self.get_account(key) for key in pubkeys]

    @abstractmethod
    async def unix_time(self) -> int: ...

    @abstractmethod
    async def airdrop(self, pubkey: Pubkey, lamports: int) -> None: ...

    async def get_balance(self, pubkey: Pubkey) -> int:
        info = await self.get_account(pubkey)
        return info.lamports if info else 0

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Releases connections; the embedded backend has none."""
