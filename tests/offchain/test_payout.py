"""The payout relayer: checks a reveal against the chain before spending a fee,
sends `claim_reward` once, answers a repeat with "already claimed", limits
each participant's rate, and never logs a salt."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from solders.keypair import Keypair

from client_kit.enums import Reason, Verdict
from client_kit.gateway.embedded import EmbeddedGateway
from client_kit.keys import save_payout_secret, write_keypair
from offchain.payout import (
    AlreadyClaimed,
    InvalidReveal,
    NothingToClaim,
    PayoutRelayer,
    RateLimited,
    Reveal,
    UnknownParticipant,
    UnknownPool,
    WrongSalt,
)
from tests.pools import SOL, PoolScenario, filled


async def _finished_pool(tmp_path) -> PoolScenario:  # type: ignore[no-untyped-def]
    """A one-round pool: alice accepted with 60% of 1 SOL, bob accepted with 40%."""
    world = PoolScenario(EmbeddedGateway(), tmp_path / "store")
    await world.setup()
    await world.create(max_participants=3)
    await world.fund(SOL)
    for _ in range(3):
        await world.join(await world.new_trainer())
    await world.start()
    alice, bob, _ = world.trainers
    for trainer in world.trainers:  # the third commits and never reveals
        await world.submit(trainer)
    for trainer in (alice, bob):
        await world.reveal(trainer)
    world.chain.set_time((await world.round_state()).reveal_deadline)
    await world.judge(alice, Verdict.ACCEPTED, 6_000)
    await world.judge(bob, Verdict.ACCEPTED, 4_000)
    await world.judge(world.trainers[2], Verdict.SLASHED, 0, Reason.NOT_REVEALED)
    await world.finalize(filled(world.task, 0.0))
    return world


def reveal_of(world: PoolScenario, trainer, salt: bytes | None = None) -> Reveal:  # type: ignore[no-untyped-def]
    assert trainer.secret is not None
    return Reveal(
        world.key,
        trainer.wallet.pubkey(),
        trainer.secret.payout_wallet,
        trainer.secret.salt if salt is None else salt,
    )


def _sent(chain: EmbeddedGateway) -> list[str]:
    """Signatures of the transactions landing from now on."""
    landed: list[str] = []
    chain.add_listener(lambda tx: landed.append(tx.signature))
    return landed


async def _relayer(world: PoolScenario, **kw) -> PayoutRelayer:  # type: ignore[no-untyped-def]
    fees = Keypair()
    await world.chain.airdrop(fees.pubkey(), SOL)
    return PayoutRelayer(world.chain, fees, **kw)


async def test_a_valid_reveal_pays_the_committed_wallet_once(tmp_path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    # Given a finished pool where alice earned 0.6 SOL
    world = await _finished_pool(tmp_path)
    alice = world.trainers[0]
    relayer = await _relayer(world)
    payout = alice.secret.payout_wallet  # type: ignore[union-attr]
    before = await world.chain.get_balance(payout)
    # When her reveal is relayed
    relayed = await relayer.relay(reveal_of(world, alice))
    # Then the committed wallet received her reward
    assert relayed.amount == 6 * SOL // 10
    assert await world.chain.get_balance(payout) - before == relayed.amount
    # When the same reveal comes again, Then "already claimed" and nothing is sent
    sent = _sent(world.chain)
    fees = await world.chain.get_balance(relayer.relayer.pubkey())
    with pytest.raises(AlreadyClaimed):
        await relayer.relay(reveal_of(world, alice))
    assert sent == [] and await world.chain.get_balance(relayer.relayer.pubkey()) == fees
    # and no log line carries the salt
    salt = alice.secret.salt  # type: ignore[union-attr]
    assert_salt_absent(caplog, salt)


def assert_salt_absent(caplog, salt: bytes) -> None:  # type: ignore[no-untyped-def]
    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records) + caplog.text
    for form in (salt.hex(), str(salt), repr(salt), salt.hex().upper()):
        assert form not in text
    assert caplog.records, "the relayer logged nothing at all"


@pytest.mark.parametrize(
    "case", ["wrong_salt", "other_wallet", "unknown", "unknown_pool", "nothing", "slashed"]
)
async def test_refused_reveals_send_nothing_and_change_nothing(tmp_path, caplog, case) -> None:
    caplog.set_level(logging.DEBUG)
    # Given a finished pool and a relayer
    world = await _finished_pool(tmp_path)
    alice, bob, slashed = world.trainers
    relayer = await _relayer(world)
    stranger = Keypair()
    reveal, error = {
        "wrong_salt": (reveal_of(world, alice, b"\x01" * 32), WrongSalt),
        "other_wallet": (
            Reveal(world.key, alice.wallet.pubkey(), bob.secret.payout_wallet, alice.secret.salt),  # type: ignore[union-attr]
            WrongSalt,
        ),
        "unknown": (
            Reveal(world.key, stranger.pubkey(), stranger.pubkey(), b"\x02" * 32),
            UnknownParticipant,
        ),
        "unknown_pool": (
            Reveal(
                stranger.pubkey(), alice.wallet.pubkey(), alice.payout.pubkey(), b"\x04" * 32
            ),
            UnknownPool,
        ),
        "nothing": (reveal_of(world, slashed), NothingToClaim),
        "slashed": (reveal_of(world, slashed, b"\x03" * 32), WrongSalt),
    }[case]
    states = [await world.participant_state(t) for t in world.trainers]
    fees = await world.chain.get_balance(relayer.relayer.pubkey())
    sent = _sent(world.chain)
    # When it is relayed, Then a named error and nothing sent or changed
    with pytest.raises(error):
        await relayer.relay(reveal)
    assert sent == []
    assert await world.chain.get_balance(relayer.relayer.pubkey()) == fees
    assert [await world.participant_state(t) for t in world.trainers] == states
    assert_salt_absent(caplog, reveal.salt)


async def test_each_participant_is_rate_limited(tmp_path) -> None:
    # Given a relayer allowing two reveals per participant per minute
    world = await _finished_pool(tmp_path)
    alice, bob, _ = world.trainers
    relayer = await _relayer(world, max_rate=2, time_period=60)
    # When alice sends three wrong reveals in a row
    for _ in range(2):
        with pytest.raises(WrongSalt):
            await relayer.relay(reveal_of(world, alice, b"\x04" * 32))
    # Then the third is refused before any chain read, even with the right salt
    with pytest.raises(RateLimited):
        await relayer.relay(reveal_of(world, alice))
    # and bob, another participant, is not affected
    assert (await relayer.relay(reveal_of(world, bob))).amount == 4 * SOL // 10


def test_a_malformed_salt_is_refused_and_never_printed() -> None:
    with pytest.raises(InvalidReveal):
        Reveal(Keypair().pubkey(), Keypair().pubkey(), Keypair().pubkey(), b"short")
    salt = bytes(range(32))
    reveal = Reveal(Keypair().pubkey(), Keypair().pubkey(), Keypair().pubkey(), salt)
    assert salt.hex() not in repr(reveal) and repr(salt) not in repr(reveal)


def _cli(home, *args: str) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    return subprocess.run(
        [sys.executable, "-m", "offchain.cli", "--url", "embedded", "--home", str(home), *args],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_relay_claim_from_the_command_line_pays_once(tmp_path) -> None:
    # Given a finished pool saved as the CLI's embedded chain, alice's payout secret
    # in a secrets folder, and a relayer key with fees
    world = await _finished_pool(tmp_path)
    alice = world.trainers[0]
    secret = alice.secret
    assert secret is not None
    secrets = tmp_path / "secrets"
    save_payout_secret(secrets, world.key, secret.wallet, secret.payout_wallet, secret.salt)
    relayer = Keypair()
    await world.chain.airdrop(relayer.pubkey(), SOL)
    key_file = write_keypair(tmp_path / "relayer.json", relayer)
    home = tmp_path / "home"
    world.chain.save_state(home / "embedded-state.json")
    args = ["--keypair", str(key_file), "--json", "operator", "relay-claim", str(world.key),
            str(alice.wallet.pubkey()), "--secrets-dir", str(secrets)]  # fmt: skip
    # When the reveal is relayed from the command line, twice
    first, second = _cli(home, *args), _cli(home, *args)
    # Then the first pays her committed wallet, the second is refused by name
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["paid_lamports"] == 6 * SOL // 10
    assert second.returncode == 1 and "already claimed" in second.stderr
    assert secret.salt.hex() not in first.stdout + first.stderr + second.stderr
