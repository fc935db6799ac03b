"""Chain gateway over JSON-RPC and websocket pubsub (any cluster: Surfpool,
solana-test-validator, devnet, mainnet), with solana-py's `AsyncClient`.

* `send` compiles a v0 transaction against a fresh blockhash, sends it with
  preflight, waits (bounded) for the configured commitment, and when the old
  blockhash expires looks every earlier attempt up again (full status history)
  before it retries with a new blockhash (bounded count), so a transaction is
  never executed twice; then reads logs and compute units back with
  `getTransaction`.
* Program errors come back as the named `FedstakeProgramError` whether they
  were caught in preflight simulation or on chain.
* Transport primitives for following the chain, with no loops of their own:
  `open_stream` (one websocket with `logsSubscribe` mentioning the program and
  `programSubscribe` per filter list), `program_signatures`
  (`getSignaturesForAddress`), `fetch_transaction` (`getTransaction`),
  `read_accounts` (`getMultipleAccounts`) and filtered `program_accounts`
  (`getProgramAccounts`). `offchain.watcher` owns the reconnects, backoff,
  backfill and dedup built on them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from solana.exceptions import SolanaRpcException
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Commitment, Confirmed
from solana.rpc.core import _COMMITMENT_TO_SOLDERS, RPCException
from solana.rpc.models import MemcmpOpts, TxOpts
from solana.rpc.websocket_api import SolanaWsClient
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.rpc.config import RpcTransactionLogsFilterMentions
from solders.rpc.responses import LogsNotification, ProgramNotification
from solders.signature import Signature
from solders.sysvar import CLOCK
from solders.transaction import VersionedTransaction
from websockets.exceptions import InvalidHandshake

from client_kit.errors import (
    ChainError,
    ClusterUnreachable,
    ProgramNotDeployed,
    TransactionFailed,
    program_error,
)
from client_kit.events import events_from_logs
from client_kit.gateway.base import AccountInfo, ChainGateway, LandedTransaction, TxResult
from client_kit.gateway.filters import AccountFilter, DataSize
from client_kit.idl import load_idl
from client_kit.storage.cid import b58encode

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_MULTIPLE_ACCOUNTS = 100  # getMultipleAccounts' limit per call
CLOCK_UNIX_TIMESTAMP = slice(32, 40)  # slot, epoch_start_timestamp, epoch, leader epoch, unix ts
_HEX_CODE = re.compile(r"custom program error: 0x([0-9a-fA-F]+)")
_CUSTOM_CODE = re.compile(r"Custom\((\d+)\)")
_ALREADY_PROCESSED = ("AlreadyProcessed", "already been processed")


class TimeTravelUnsupported(ChainError):
    """The endpoint has no `surfnet_timeTravel` (only Surfpool offers it)."""


def custom_error_code(*texts: object) -> int | None:
    """The custom program error code in an RPC error text or log lines, if any."""
    for text in texts:
        lines = text if isinstance(text, list) else [str(text)]
        for line in lines:
            m = _CUSTOM_CODE.search(str(line))
            if m:
                return int(m.group(1))
            m = _HEX_CODE.search(str(line))
            if m:
                return int(m.group(1), 16)
    return None


class RpcGateway(ChainGateway):
    """`ChainGateway` over an RPC URL (and its websocket, default: port + 1)."""

    def __init__(
        self,
        url: str,
        ws_url: str | None = None,
        program_id: Pubkey | None = None,
        commitment: Commitment = Confirmed,
        *,
        request_timeout: float = 10.0,
        confirm_timeout: float = 30.0,
        send_attempts: int = 3,
        poll_interval: float = 0.05,
    ) -> None:
        self.url = url
        self.ws_url = ws_url or _default_ws_url(url)
        self.program_id = program_id or load_idl().address
        self.commitment = commitment
        self.confirm_timeout = confirm_timeout
        self.send_attempts = send_attempts
        self.poll_interval = poll_interval
        self.client = AsyncClient(url, commitment=commitment, timeout=request_timeout)

    # --- plumbing --------------------------------------------------------
    async def _call(self, what: Awaitable[T]) -> T:
        try:
            return await what
        except SolanaRpcException as exc:
            cause = exc.__cause__ or exc
            raise ClusterUnreachable(
                f"cluster {self.url} unreachable: {type(cause).__name__}: {cause}"
            ) from exc
        except (OSError, TimeoutError) as exc:
            raise ClusterUnreachable(f"cluster {self.url} unreachable: {exc!r}") from exc

    async def raw_request(self, method: str, params: list[Any] | None = None) -> Any:
        """A JSON-RPC call solana-py has no method for; returns `result`."""
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}
        session = self.client._provider.session  # the AsyncClient's own HTTP pool
        try:
            resp = await session.post(self.url, json=body)
        except Exception as exc:  # httpx2 transport errors
            raise ClusterUnreachable(f"cluster {self.url} unreachable: {exc!r}") from exc
        payload = resp.json()
        if "error" in payload:
            raise ChainError(f"{method} failed at {self.url}: {payload['error']}")
        return payload.get("result")

    async def check_program(self) -> None:
        """Raises `ProgramNotDeployed` unless an executable account sits at program_id."""
        info = await self.get_account(self.program_id)
        if info is None or not info.executable:
            state = "missing" if info is None else "not executable"
            raise ProgramNotDeployed(
                f"program {self.program_id} is {state} on {self.url}: deploy target/deploy/"
                "fedstake.so there (or pass the right program id)"
            )

    # --- reads -----------------------------------------------------------
    async def get_account(self, pubkey: Pubkey) -> AccountInfo | None:
        resp = await self._call(
            self.client.get_account_info(pubkey, commitment=self.commitment, encoding="base64")
        )
        account = resp.value
        if account is None:
            return None
        return AccountInfo(account.lamports, account.owner, bytes(account.data), account.executable)

    async def get_balance(self, pubkey: Pubkey) -> int:
        return (await self._call(self.client.get_balance(pubkey, commitment=self.commitment))).value

    async def program_accounts(
        self, filters: Sequence[AccountFilter] = ()
    ) -> list[tuple[Pubkey, AccountInfo]]:
        resp = await self._call(
            self.client.get_program_accounts(
                self.program_id,
                commitment=self.commitment,
                encoding="base64",
                filters=[_rpc_filter(f) for f in filters] or None,
            )
        )
        return [
            (
                keyed.pubkey,
                AccountInfo(
                    keyed.account.lamports,
                    keyed.account.owner,
                    bytes(keyed.account.data),
                    keyed.account.executable,
                ),
            )
            for keyed in resp.value
        ]

    async def get_accounts(self, pubkeys: Sequence[Pubkey]) -> list[AccountInfo | None]:
        return (await self.read_accounts(pubkeys))[1]

    async def read_accounts(
        self, pubkeys: Sequence[Pubkey]
    ) -> tuple[int, list[AccountInfo | None]]:
        """`getMultipleAccounts` (100 keys a call): the lowest context slot of
        the calls (the state is at least that new) and the accounts in order."""
        slot: int | None = None
        out: list[AccountInfo | None] = []
        keys = list(pubkeys)
        for start in range(0, max(len(keys), 1), MAX_MULTIPLE_ACCOUNTS):
            chunk = keys[start : start + MAX_MULTIPLE_ACCOUNTS]
            if not chunk:
                break
            resp = await self._call(
                self.client.get_multiple_accounts(
                    chunk, commitment=self.commitment, encoding="base64"
                )
            )
            slot = resp.context.slot if slot is None else min(slot, resp.context.slot)
            out += [
                None
                if account is None
                else AccountInfo(
                    account.lamports, account.owner, bytes(account.data), account.executable
                )
                for account in resp.value
            ]
        if slot is None:
            slot = await self.slot()
        return slot, out

    async def unix_time(self) -> int:
        info = await self.get_account(CLOCK)
        if info is None:
            raise ChainError(f"no clock sysvar at {self.url}")
        return int.from_bytes(info.data[CLOCK_UNIX_TIMESTAMP], "little", signed=True)

    async def slot(self) -> int:
        return (await self._call(self.client.get_slot(commitment=self.commitment))).value

    async def time_travel(self, unix_ts: int) -> int:
        """Moves the cluster clock to `unix_ts` (Surfpool's `surfnet_timeTravel`).

        Returns the clock's unix time afterwards; raises `TimeTravelUnsupported`
        on endpoints without the method (real validators, devnet).
        """
        try:
            await self.raw_request("surfnet_timeTravel", [{"absoluteTimestamp": unix_ts * 1000}])
        except ClusterUnreachable:
            raise
        except ChainError as exc:
            raise TimeTravelUnsupported(
                f"{self.url} cannot move its clock (surfnet_timeTravel: {exc}); only a "
                "Surfpool local validator supports time travel"
            ) from exc
        return await self.unix_time()

    # --- transactions ----------------------------------------------------
    async def airdrop(self, pubkey: Pubkey, lamports: int) -> None:
        try:
            sig = (await self._call(self.client.request_airdrop(pubkey, lamports))).value
        except RPCException as exc:
            raise TransactionFailed(f"airdrop failed on {self.url}: {exc}") from exc
        status = await self._confirm(sig, None)
        if status is None:
            raise TransactionFailed(f"airdrop {sig} not confirmed within {self.confirm_timeout}s")
        if status.err is not None:
            raise TransactionFailed(f"airdrop failed: {status.err}")

    async def send(
        self, instructions: Sequence[Instruction], signers: Sequence[Keypair]
    ) -> TxResult:
        """Sends one transaction; at most one of its attempts can ever land.

        Each attempt is signed over a new blockhash. An attempt whose
        blockhash expired without a status is resent only after every
        signature sent so far was looked up again in the full status history
        (a status can lag behind block height): if one landed, that one is the
        result and nothing is resent. A preflight "already processed" means
        this very transaction landed, so it is confirmed, not resent.
        """
        payer = signers[0]
        previous_hash = None
        sent: list[Signature] = []
        for _attempt in range(self.send_attempts):
            latest = await self._fresh_blockhash(previous_hash)
            message = MessageV0.try_compile(
                payer.pubkey(), list(instructions), [], latest.blockhash
            )
            tx = VersionedTransaction(message, list(signers))
            sig = tx.signatures[0]
            try:
                await self._call(
                    self.client.send_transaction(
                        tx, TxOpts(skip_confirmation=True, preflight_commitment=self.commitment)
                    )
                )
            except RPCException as exc:
                failure = _preflight_failure(exc)
                if failure is not None:
                    raise failure from exc
                status = await self._confirm(sig, None)  # this transaction already landed
                return await self._result(sig, status)
            sent.append(sig)
            status = await self._confirm(sig, latest.last_valid_block_height)
            if status is None:
                landed = await self._landed(sent)
                if landed is not None:
                    return await self._result(landed[0], landed[1])
                previous_hash = latest.blockhash
                log.info("transaction %s expired; resending with a new blockhash", sig)
                continue
            return await self._result(sig, status)
        raise TransactionFailed(
            f"transaction not confirmed after {self.send_attempts} attempts "
            f"(blockhash expired each time) on {self.url}"
        )

    async def _landed(self, sent: Sequence[Signature]) -> tuple[Signature, Any] | None:
        """The first of `sent` that landed after all (searching the whole status
        history), waited to the commitment; None if none of them did."""
        resp = await self._call(
            self.client.get_signature_statuses(list(sent), search_transaction_history=True)
        )
        for sig, status in zip(sent, resp.value, strict=True):
            if status is not None:
                log.info("transaction %s landed although its blockhash expired", sig)
                return sig, await self._confirm(sig, None)
        return None

    async def _result(self, sig: Signature, status: Any) -> TxResult:
        """The landed transaction's logs and units, or its named failure."""
        logs, units = await self._logs(sig)
        if status.err is not None:
            code = custom_error_code(str(status.err), logs)
            if code is not None:
                raise program_error(code, logs)
            raise TransactionFailed(f"transaction {sig} failed: {status.err}", logs)
        return TxResult(str(sig), logs, units, events_from_logs(logs, self.program_id))

    async def _fresh_blockhash(self, previous: Any) -> Any:
        """The latest blockhash, waiting (bounded) until it differs from `previous`."""
        deadline = time.monotonic() + self.confirm_timeout
        while True:
            latest = (await self._call(self.client.get_latest_blockhash(self.commitment))).value
            if latest.blockhash != previous:
                return latest
            if time.monotonic() > deadline:
                raise TransactionFailed(
                    f"no new blockhash from {self.url} in {self.confirm_timeout}s"
                )
            await asyncio.sleep(self.poll_interval)

    async def _confirm(self, sig: Signature, last_valid_block_height: int | None) -> Any:
        """The signature's status once it reaches the commitment; None if the
        blockhash expired first; raises `TransactionFailed` after confirm_timeout."""
        deadline = time.monotonic() + self.confirm_timeout
        while True:
            resp = await self._call(self.client.get_signature_statuses([sig]))
            status = resp.value[0]
            if status is not None and (status.err is not None or _reached(status, self.commitment)):
                return status
            if status is None and last_valid_block_height is not None:
                height = (await self._call(self.client.get_block_height(self.commitment))).value
                if height > last_valid_block_height:
                    return None
            if time.monotonic() > deadline:
                raise TransactionFailed(
                    f"transaction {sig} not confirmed within {self.confirm_timeout}s on {self.url}"
                )
            await asyncio.sleep(self.poll_interval)

    async def _logs(self, sig: Signature) -> tuple[list[str], int]:
        deadline = time.monotonic() + self.confirm_timeout
        while True:
            found = await self._get_transaction(sig)
            if found is not None:
                landed, units = found
                return list(landed.logs), units
            if time.monotonic() > deadline:
                raise TransactionFailed(f"transaction {sig} confirmed but not retrievable")
            await asyncio.sleep(self.poll_interval)

    # --- history ---------------------------------------------------------
    async def program_signatures(
        self, *, until: str | None = None, before: str | None = None, limit: int = 1000
    ) -> list[SignatureRecord]:
        """One page of `getSignaturesForAddress(program_id)`, newest first.

        `until`: stop before this signature (exclusive); `before`: start
        below it; `limit` ≤ 1000 (the RPC maximum). The order is the chain's:
        by slot, then by position in the block, descending.
        """
        resp = await self._call(
            self.client.get_signatures_for_address(
                self.program_id,
                before=Signature.from_string(before) if before else None,
                until=Signature.from_string(until) if until else None,
                limit=limit,
                commitment=self.commitment,
            )
        )
        return [
            SignatureRecord(str(item.signature), item.slot, item.err is not None)
            for item in resp.value
        ]

    async def fetch_transaction(self, signature: str) -> LandedTransaction | None:
        """`getTransaction`: slot, logs, outcome and writable non-signer keys;
        None while the node does not have it (yet). `index` is None: the RPC
        does not say where in its block the transaction sits."""
        found = await self._get_transaction(Signature.from_string(signature))
        if found is None:
            return None
        return found[0]

    async def _get_transaction(self, sig: Signature) -> tuple[LandedTransaction, int] | None:
        resp = await self._call(
            self.client.get_transaction(
                sig, encoding="base64", commitment=self.commitment,
                max_supported_transaction_version=0,
            )
        )  # fmt: skip
        if resp.value is None:
            return None
        meta = resp.value.transaction.meta
        tx = resp.value.transaction.transaction
        writable: list[Pubkey] = []
        if isinstance(tx, VersionedTransaction):
            message = tx.message
            writable = [
                key
                for i, key in enumerate(message.account_keys)
                if message.is_maybe_writable(i) and not message.is_signer(i)
            ]
        if meta is not None and meta.loaded_addresses is not None:
            writable += list(meta.loaded_addresses.writable)
        logs = tuple(meta.log_messages or []) if meta is not None else ()
        units = int(meta.compute_units_consumed or 0) if meta is not None else 0
        landed = LandedTransaction(
            signature=str(sig),
            slot=resp.value.slot,
            index=None,
            logs=logs,
            failed=meta is not None and meta.err is not None,
            writable=tuple(writable),
        )
        return landed, units

    # --- subscriptions ---------------------------------------------------
    async def open_stream(
        self,
        account_filters: Sequence[Sequence[AccountFilter]] = ((),),
        *,
        logs: bool = True,
        keepalive: float = 20.0,
        open_timeout: float = 5.0,
    ) -> ProgramStream:
        """A new websocket carrying the program's subscriptions.

        One `programSubscribe` per entry of `account_filters` (each a list of
        `client_kit.gateway.filters` that must all match; empty: the whole
        program) and, if `logs`, one `logsSubscribe` mentioning the program id,
        all at the gateway's commitment. `keepalive` (seconds) is the ping
        interval and the pong timeout, so a frozen node ends the stream within
        about 2 × keepalive. Raises `ClusterUnreachable` when the websocket
        does not open. No retries here: `offchain.watcher` reconnects.
        """
        ws = SolanaWsClient(
            self.ws_url,
            request_timeout=max(open_timeout, 1.0),
            open_timeout=open_timeout,
            ping_interval=keepalive,
            ping_timeout=keepalive,
            close_timeout=min(keepalive, 5.0),
        )
        try:
            await ws.connect()
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            raise ClusterUnreachable(f"websocket {self.ws_url} unreachable: {exc!r}") from exc
        try:
            if logs:
                await ws.logs_subscribe(
                    filter_=RpcTransactionLogsFilterMentions(self.program_id),
                    commitment=self.commitment,
                )
            for filters in account_filters:
                await ws.program_subscribe(
                    program_id=self.program_id,
                    commitment=self.commitment,
                    encoding="base64",
                    filters=[_rpc_filter(f) for f in filters] or None,
                )
        except BaseException:
            with contextlib.suppress(Exception):
                await ws.close()
            raise
        return ProgramStream(ws, self.program_id)

    async def close(self) -> None:
        await self.client.close()


def _rpc_filter(f: AccountFilter) -> int | MemcmpOpts:
    """solana-py's spelling of a filter: an int is `dataSize`, memcmp bytes are base58."""
    if isinstance(f, DataSize):
        return f.size
    return MemcmpOpts(offset=f.offset, bytes=b58encode(f.data))


@dataclass(frozen=True)
class SignatureRecord:
    """One entry of `getSignaturesForAddress`."""

    signature: str
    slot: int
    failed: bool


@dataclass(frozen=True)
class LogsNotice:
    """A `logsSubscribe` notification: a transaction mentioning the program.

    Surfpool 1.5.0 reports failed transactions with `failed=False` and no
    logs; `getSignaturesForAddress` has the real outcome.
    """

    signature: str
    slot: int
    failed: bool
    logs: tuple[str, ...]


@dataclass(frozen=True)
class AccountNotice:
    """A `programSubscribe` notification; `info` is None when the account left
    the program (closed). `slot` is the node's context slot: Surfpool 1.5.0
    reports the slot its subscription started at, not the change's."""

    pubkey: Pubkey
    info: AccountInfo | None
    slot: int


class ProgramStream:
    """One open websocket with the program's subscriptions (see `open_stream`).

    `recv()` returns the next `LogsNotice` or `AccountNotice`, in the order the
    node sent them, and raises once the connection is gone (closed, keepalive
    timeout, notification overflow). No reconnects: the caller opens a new one.
    """

    def __init__(self, ws: SolanaWsClient, program_id: Pubkey) -> None:
        self._ws = ws
        self._program_id = program_id

    async def recv(self) -> LogsNotice | AccountNotice:
        while True:
            note = await self._ws.recv()
            if isinstance(note, LogsNotification):
                value = note.result.value
                return LogsNotice(
                    str(value.signature),
                    note.result.context.slot,
                    value.err is not None,
                    tuple(value.logs),
                )
            if isinstance(note, ProgramNotification):
                account = note.result.value.account
                info = None
                if account.lamports > 0 and account.owner == self._program_id:
                    info = AccountInfo(
                        account.lamports, account.owner, bytes(account.data), account.executable
                    )
                return AccountNotice(note.result.value.pubkey, info, note.result.context.slot)

    async def close(self) -> None:
        """Closes the websocket (idempotent)."""
        await self._ws.close()


def _reached(status: Any, commitment: Commitment) -> bool:
    level = status.confirmation_status
    return level is not None and int(level) >= int(_COMMITMENT_TO_SOLDERS[commitment])


def _preflight_failure(exc: RPCException) -> TransactionFailed | None:
    """The error a rejected `sendTransaction` stands for; None for 'already processed'."""
    err = exc.args[0] if exc.args else exc
    data = getattr(err, "data", None)
    logs = list(getattr(data, "logs", None) or [])
    sim_err = getattr(data, "err", None)
    text = str(getattr(err, "message", err))
    if any(marker in f"{sim_err} {text}" for marker in _ALREADY_PROCESSED):
        return None
    code = custom_error_code(str(sim_err), text, logs)
    if code is not None:
        return program_error(code, logs)
    return TransactionFailed(f"transaction rejected in preflight: {text}", logs)


def _default_ws_url(url: str) -> str:
    """ws(s) URL next to an http(s) one: the Solana CLI's rule (port + 1)."""
    try:
        from client_kit.config import websocket_url
    except ImportError:  # config not present: same rule, inline
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.port is not None:
            netloc = f"{parts.hostname}:{parts.port + 1}"
        scheme = "wss" if parts.scheme == "https" else "ws"
        return urlunsplit((scheme, netloc, parts.path, parts.query, ""))
    return websocket_url(url)
