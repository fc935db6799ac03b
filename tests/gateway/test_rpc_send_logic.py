"""`RpcGateway.send` retry/confirm logic against a scripted stand-in for AsyncClient
(blockhash expiry cannot be provoked on demand on a real validator)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from solders.hash import Hash
from solders.keypair import Keypair
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.transaction_status import TransactionConfirmationStatus

from client_kit.errors import FedstakeProgramError, TransactionFailed
from client_kit.gateway.rpc import RpcGateway, custom_error_code
from tests.gateway.conftest import PROGRAM_ID


class ScriptedClient:
    """Each transaction's fate: 'expire' (never lands), 'ok', or 'fail:<code>'."""

    def __init__(self, fates: list[str]) -> None:
        self.fates = fates
        self.sent: list[tuple[Signature, str]] = []

    async def get_latest_blockhash(self, *_: object) -> SimpleNamespace:
        return SimpleNamespace(
            value=SimpleNamespace(blockhash=Hash.new_unique(), last_valid_block_height=10)
        )

    async def send_transaction(self, tx: object, *_: object) -> SimpleNamespace:
        sig = Signature.new_unique()
        self.sent.append((sig, self.fates[len(self.sent)]))
        return SimpleNamespace(value=sig)

    def _fate(self, sig: Signature) -> str:
        return dict(self.sent)[sig]

    async def get_signature_statuses(self, sigs: list[Signature]) -> SimpleNamespace:
        fate = self._fate(sigs[0])
        if fate == "expire":
            return SimpleNamespace(value=[None])
        err = None
        if fate.startswith("fail:"):
            err = f"InstructionError(0, Custom({fate[5:]}))"
        status = SimpleNamespace(
            err=err, confirmation_status=TransactionConfirmationStatus.Confirmed, slot=7
        )
        return SimpleNamespace(value=[status])

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
    assert len(client.sent) == 3
    assert result.signature == str(client.sent[-1][0]) and result.compute_units == 1234
    assert result.logs == ["Program log: hi"]


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
