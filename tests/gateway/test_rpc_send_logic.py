"""`RpcGateway.send` retry/confirm logic against a scripted stand-in for AsyncClient
(blockhash expiry and lagging statuses cannot be provoked on demand on a real
validator). The script sees the real signed transactions, so the tests check
which blockhash each attempt was signed over and which signatures were looked up."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from solana.rpc.core import RPCException
from solders.hash import Hash
from solders.keypair import Keypair
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction
from solders.transaction_status import TransactionConfirmationStatus

from client_kit.errors import FedstakeProgramError, TransactionFailed
from client_kit.gateway.rpc import RpcGateway, custom_error_code
from tests.gateway.conftest import PROGRAM_ID


class ScriptedClient:
    """Each transaction's fate, in sending order:

    * 'expire'  — never lands;
    * 'late'    — lands, but its status shows only in the full history (lags
                  behind block height, so the first wait sees the blockhash expire);
    * 'ok'      — lands and is confirmed;
    * 'already' — sendTransaction answers "already processed" (it landed);
    * 'fail:<code>' — lands with that custom program error.
    """

    def __init__(self, fates: list[str]) -> None:
        self.fates = fates
        self.handed_out: list[Hash] = []  # blockhashes given by getLatestBlockhash
        self.sent: list[tuple[Signature, Hash, str]] = []  # signature, signed-over hash, fate
        self.history_lookups: list[list[Signature]] = []

    async def get_latest_blockhash(self, *_: object) -> SimpleNamespace:
        blockhash = Hash.new_unique()
        self.handed_out.append(blockhash)
        return SimpleNamespace(
            value=SimpleNamespace(blockhash=blockhash, last_valid_block_height=10)
        )

    async def send_transaction(self, tx: VersionedTransaction, *_: object) -> SimpleNamespace:
        fate = self.fates[len(self.sent)]
        sig = tx.signatures[0]
        self.sent.append((sig, tx.message.recent_blockhash, fate))
        if fate == "already":
            raise RPCException(
                SimpleNamespace(message="Transaction already been processed", data=None)
            )
        return SimpleNamespace(value=sig)

    def _fate(self, sig: Signature) -> str:
        return {s: fate for s, _, fate in self.sent}[sig]

    def _status(self, fate: str) -> SimpleNamespace:
        err = f"InstructionError(0, Custom({fate[5:]}))" if fate.startswith("fail:") else None
        return SimpleNamespace(
            err=err, confirmation_status=TransactionConfirmationStatus.Confirmed, slot=7
        )

    async def get_signature_statuses(
        self, sigs: list[Signature], search_transaction_history: bool = False
    ) -> SimpleNamespace:
        if search_transaction_history:
            self.history_lookups.append(list(sigs))
        statuses = []
        for sig in sigs:
            fate = self._fate(sig)
            visible = fate not in ("expire", "late") or (
                fate == "late" and search_transaction_history
            )
            statuses.append(self._status(fate) if visible else None)
        if (
            not search_transaction_history
            and self._fate(sigs[0]) == "late"
            and self.history_lookups
        ):
            statuses = [self._status("ok")]  # once found in history, it shows as confirmed
        return SimpleNamespace(value=statuses)

    async def get_block_height(self, *_: object) -> SimpleNamespace:
        return SimpleNamespace(value=11)  # past every last_valid_block_height

    async def get_transaction(self, sig: Signature, **_: object) -> SimpleNamespace:
        logs = ["Program log: hi"]
        if self._fate(sig).startswith("fail:"):
            logs.append("Program x failed: custom program error: 0x1792")
        err = "InstructionError" if self._fate(sig).startswith("fail:") else None
        meta = SimpleNamespace(
            log_messages=logs, compute_units_consumed=1234, err=err, loaded_addresses=None
        )
        tx = SimpleNamespace(meta=meta, transaction=None)
        return SimpleNamespace(value=SimpleNamespace(slot=7, transaction=tx))

    async def close(self) -> None:
        pass


def gateway(fates: list[str], attempts: int = 3) -> tuple[RpcGateway, ScriptedClient]:
    chain = RpcGateway("http://127.0.0.1:1", program_id=PROGRAM_ID, send_attempts=attempts)
    client = ScriptedClient(fates)
    chain.client = client  # type: ignore[assignment]
    chain.poll_interval = 0.001
    return chain, client


def payment(payer: Keypair) -> list:  # type: ignore[type-arg]
    return [
        transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=payer.pubkey(), lamports=1))
    ]


async def test_expired_blockhash_is_retried_with_a_new_one() -> None:
    chain, client = gateway(["expire", "expire", "ok"])
    payer = Keypair()
    result = await chain.send(payment(payer), [payer])
    # Then three transactions went out, each signed over the blockhash just handed
    # out, all different, and only the last one's signature is returned
    assert len(client.sent) == 3
    signed_over = [blockhash for _, blockhash, _ in client.sent]
    assert signed_over == client.handed_out
    assert len(set(signed_over)) == 3
    assert len({sig for sig, _, _ in client.sent}) == 3
    assert result.signature == str(client.sent[-1][0]) and result.compute_units == 1234
    assert result.logs == ["Program log: hi"]
    # and before each resend every earlier signature was looked up in the full history
    first, second, _ = (sig for sig, _, _ in client.sent)
    assert client.history_lookups == [[first], [first, second]]


async def test_a_late_first_transaction_is_never_sent_twice() -> None:
    # Given a first transaction whose status lags behind block height
    chain, client = gateway(["late", "ok"])
    payer = Keypair()
    # When its blockhash expires before the status shows
    result = await chain.send(payment(payer), [payer])
    # Then the re-check finds it landed: no second transaction, its signature returned
    assert len(client.sent) == 1
    assert client.history_lookups == [[client.sent[0][0]]]
    assert result.signature == str(client.sent[0][0])


async def test_already_processed_is_the_landed_transaction() -> None:
    chain, client = gateway(["already", "ok"])
    payer = Keypair()
    result = await chain.send(payment(payer), [payer])
    assert len(client.sent) == 1
    assert result.signature == str(client.sent[0][0])


async def test_retries_are_bounded() -> None:
    chain, client = gateway(["expire"] * 5, attempts=2)
    payer = Keypair()
    with pytest.raises(TransactionFailed, match="2 attempts"):
        await chain.send(payment(payer), [payer])
    assert len(client.sent) == 2


async def test_on_chain_failure_becomes_the_named_error() -> None:
    chain, _ = gateway(["fail:6018"])
    payer = Keypair()
    with pytest.raises(FedstakeProgramError) as caught:
        await chain.send(payment(payer), [payer])
    assert caught.value.name == "StakeTooLow"
    assert caught.value.logs[-1].endswith("0x1792")


def test_custom_error_code_from_rpc_text_or_logs() -> None:
    assert custom_error_code("InstructionError(0, Custom(6018))") == 6018
    assert custom_error_code("nothing", ["x", "failed: custom program error: 0x1796"]) == 6038
    assert custom_error_code("InsufficientFundsForFee", []) is None
