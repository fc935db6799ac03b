"""In-process chain: solders' LiteSVM with the compiled fedstake.so loaded.

Time only moves when told (`set_time`), so deadlines are testable. Every
successful transaction, whoever sent it through this gateway, is announced to
the listeners (`add_listener`) as a `LandedTransaction` carrying its slot, its
index within the slot, its logs and the program accounts it changed (closed
ones with `info=None`); `offchain.watcher` turns those into bus items.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from solders.account import Account
from solders.clock import Clock
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction
from solders.transaction_metadata import FailedTransactionMetadata

from client_kit.errors import ProgramNotDeployed, TransactionFailed, program_error
from client_kit.events import events_from_logs
from client_kit.gateway.base import (
    AccountChange,
    AccountInfo,
    ChainGateway,
    LandedTransaction,
    TxResult,
)
from client_kit.gateway.filters import AccountFilter, matches
from client_kit.idl import load_idl
from client_kit.program import ProgramArtifactMissing, program_bytes

log = logging.getLogger(__name__)
Listener = Callable[[LandedTransaction], None]


class EmbeddedGateway(ChainGateway):
    def __init__(
        self,
        program_so: Path | None = None,
        program_id: Pubkey | None = None,
        start_time: int = 1_700_000_000,
    ) -> None:
        """Loads `program_so` (default: the program shipped in the package) at
        `program_id` (default: the IDL's address), clock at `start_time`."""
        if program_so is None:
            try:
                elf = program_bytes()
            except ProgramArtifactMissing as exc:
                raise ProgramNotDeployed(str(exc)) from None
        elif Path(program_so).is_file():
            elf = Path(program_so).read_bytes()
        else:
            raise ProgramNotDeployed(f"{program_so} not found: run `make program`")
        self.program_id = program_id or load_idl().address
        self.svm = LiteSVM()
        # program accounts seen alive (to report closes) and every key a
        # transaction or airdrop touched (what `save_state` persists)
        self._known: set[Pubkey] = set()
        self._touched: set[Pubkey] = set()
        self._listeners: list[Listener] = []
        self._slot_index = (-1, 0)  # (slot, transactions landed in it so far)
        self.last_transaction: LandedTransaction | None = None
        self.svm.add_program(self.program_id, elf)
        self.set_time(start_time)

    # --- clock -----------------------------------------------------------
    def set_time(self, unix_timestamp: int) -> None:
        clock = self.svm.get_clock()
        self.svm.set_clock(
            Clock(
                clock.slot + 1,
                clock.epoch_start_timestamp,
                clock.epoch,
                clock.leader_schedule_epoch,
                unix_timestamp,
            )
        )

    def advance(self, seconds: int) -> None:
        self.set_time(self.svm.get_clock().unix_timestamp + seconds)

    async def unix_time(self) -> int:
        return self.svm.get_clock().unix_timestamp

    async def slot(self) -> int:
        """The clock's slot: it moves only with `set_time`/`advance`."""
        return self.svm.get_clock().slot

    # --- transactions ----------------------------------------------------
    async def send(
        self, instructions: Sequence[Instruction], signers: Sequence[Keypair]
    ) -> TxResult:
        return self.send_sync(instructions, signers)

    def send_sync(
        self, instructions: Sequence[Instruction], signers: Sequence[Keypair]
    ) -> TxResult:
        payer = signers[0]
        message = MessageV0.try_compile(
            payer.pubkey(), list(instructions), [], self.svm.latest_blockhash()
        )
        tx = VersionedTransaction(message, list(signers))
        result = self.svm.send_transaction(tx)
        # A fresh blockhash per transaction: identical retries are not deduplicated.
        self.svm.expire_blockhash()
        if isinstance(result, FailedTransactionMetadata):
            raise _failure(result)
        slot = self.svm.get_clock().slot
        changes = []
        for key in message.account_keys:
            self._touched.add(key)
            change = self._change_of(key, slot)
            if change is not None:
                changes.append(change)
        logs = list(result.logs())
        keys = message.account_keys
        landed = LandedTransaction(
            signature=str(result.signature()),
            slot=slot,
            index=self._next_index(slot),
            logs=tuple(logs),
            writable=tuple(
                key
                for i, key in enumerate(keys)
                if message.is_maybe_writable(i) and not message.is_signer(i)
            ),
            changes=tuple(changes),
        )
        self.last_transaction = landed
        self._notify(landed)
        units = result.compute_units_consumed()
        return TxResult(landed.signature, logs, units, events_from_logs(logs, self.program_id))

    def _next_index(self, slot: int) -> int:
        seen_slot, count = self._slot_index
        index = count if seen_slot == slot else 0
        self._slot_index = (slot, index + 1)
        return index

    def _change_of(self, key: Pubkey, slot: int) -> AccountChange | None:
        """The program account `key` as a transaction left it; None if not ours."""
        account = self.svm.get_account(key)
        if account is None or account.lamports == 0:
            if key in self._known:
                self._known.discard(key)
                return AccountChange(key, None, slot)
            return None
        if account.owner == self.program_id:
            self._known.add(key)
            return AccountChange(key, _info(account), slot)
        if key in self._known:  # closed and handed back to the system program
            self._known.discard(key)
            return AccountChange(key, None, slot)
        return None

    # --- notifications ---------------------------------------------------
    def add_listener(self, listener: Listener) -> None:
        """Calls `listener(landed)` after every successful transaction, in order.

        Runs synchronously inside `send`, on the caller's thread; an exception
        in a listener is logged and never fails the transaction.
        """
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _notify(self, landed: LandedTransaction) -> None:
        for listener in list(self._listeners):
            try:
                listener(landed)
            except Exception:  # a listener's bug must not undo a landed transaction
                log.exception("listener %r failed on %s", listener, landed.signature)

    # --- persistence (so successive CLI calls see one chain) -------------
    def save_state(self, path: Path) -> None:
        """Writes every account a transaction or airdrop touched, and the clock."""
        accounts = {}
        for key in sorted(self._touched, key=str):
            account = self.svm.get_account(key)
            if account is None or account.executable or key == self.program_id:
                continue
            accounts[str(key)] = {
                "lamports": account.lamports,
                "owner": str(account.owner),
                "data": base64.b64encode(bytes(account.data)).decode(),
            }
        clock = self.svm.get_clock()
        state = {"version": 1, "unix_timestamp": clock.unix_timestamp, "accounts": accounts}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1))
        os.replace(tmp, path)

    def load_state(self, path: Path) -> None:
        """Restores accounts and clock written by `save_state` (missing file: no-op)."""
        if not path.is_file():
            return
        try:
            state = json.loads(path.read_text())
            for key, entry in state["accounts"].items():
                pubkey = Pubkey.from_string(key)
                data = base64.b64decode(entry["data"])
                owner = Pubkey.from_string(entry["owner"])
                self.svm.set_account(pubkey, Account(entry["lamports"], data, owner, False, 0))
                self._touched.add(pubkey)
                if owner == self.program_id:
                    self._known.add(pubkey)
            self.set_time(int(state["unix_timestamp"]))
        except (KeyError, ValueError, TypeError) as exc:
            raise TransactionFailed(f"embedded state file {path} is corrupt: {exc}") from exc

    # --- reads -----------------------------------------------------------
    async def get_account(self, pubkey: Pubkey) -> AccountInfo | None:
        account = self.svm.get_account(pubkey)
        if account is None or (account.lamports == 0 and not account.data):
            return None
        return _info(account)

    async def program_accounts(
        self, filters: Sequence[AccountFilter] = ()
    ) -> list[tuple[Pubkey, AccountInfo]]:
        return [
            (key, _info(account))
            for key, account in self.svm.get_program_accounts(self.program_id)
            if matches(bytes(account.data), filters)
        ]

    async def airdrop(self, pubkey: Pubkey, lamports: int) -> None:
        self._touched.add(pubkey)
        result = self.svm.airdrop(pubkey, lamports)
        if isinstance(result, FailedTransactionMetadata):
            raise TransactionFailed(f"airdrop failed: {result.err}")


def _info(account: object) -> AccountInfo:
    return AccountInfo(
        lamports=account.lamports,  # type: ignore[attr-defined]
        owner=account.owner,  # type: ignore[attr-defined]
        data=bytes(account.data),  # type: ignore[attr-defined]
        executable=account.executable,  # type: ignore[attr-defined]
    )


def _failure(result: FailedTransactionMetadata) -> TransactionFailed:
    logs = list(result.meta().logs())
    code = _custom_code(str(result.err()))
    if code is not None:
        return program_error(code, logs)
    return TransactionFailed(f"transaction failed: {result.err()}", logs)


def _custom_code(err: str) -> int | None:
    marker = "Custom("
    if marker not in err:
        return None
    tail = err[err.index(marker) + len(marker) :]
    digits = tail[: tail.index(")")]
    return int(digits) if digits.isdigit() else None
