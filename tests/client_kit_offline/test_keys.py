"""Keypair files and payout secrets: formats, permissions and the named errors."""

from __future__ import annotations

import hashlib
import json
import stat

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client_kit.keys import (
    KeypairExists,
    KeypairInvalid,
    KeypairNotFound,
    KeypairUnreadable,
    PayoutSecretExists,
    PayoutSecretInvalid,
    PayoutSecretNotFound,
    generate_salt,
    load_keypair,
    load_payout_secret,
    payout_commitment,
    payout_secret_path,
    save_payout_secret,
    write_keypair,
)


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_written_keypair_loads_back_and_is_private(tmp_path):
    keypair = Keypair()
    path = write_keypair(tmp_path / "id.json", keypair)
    assert mode(path) == 0o600
    assert load_keypair(path) == keypair
    assert json.loads(path.read_text()) == list(bytes(keypair))  # Solana CLI format


def test_write_keypair_refuses_to_replace_a_file(tmp_path):
    path = write_keypair(tmp_path / "id.json", Keypair())
    with pytest.raises(KeypairExists):
        write_keypair(path, Keypair())


def test_missing_keypair_file(tmp_path):
    with pytest.raises(KeypairNotFound):
        load_keypair(tmp_path / "nope.json")


def test_a_directory_is_not_a_readable_keypair(tmp_path):
    with pytest.raises(KeypairUnreadable):
        load_keypair(tmp_path)


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        json.dumps([1, 2, 3]),
        json.dumps({"secret": list(range(64))}),
        json.dumps([256] * 64),
        json.dumps([1.5] * 64),
    ],
)
def test_malformed_keypair_files_are_invalid(tmp_path, content):
    path = tmp_path / "id.json"
    path.write_text(content)
    with pytest.raises(KeypairInvalid) as raised:
        load_keypair(path)
    assert raised.value.__context__ is None or raised.value.__suppress_context__


def test_mismatched_public_half_is_invalid_and_the_message_leaks_no_secret(tmp_path):
    keypair = Keypair()
    values = list(bytes(keypair)[:32]) + list(bytes(Keypair().pubkey()))
    path = tmp_path / "id.json"
    path.write_text(json.dumps(values))
    with pytest.raises(KeypairInvalid) as raised:
        load_keypair(path)
    message = str(raised.value)
    assert json.dumps(values)[:20] not in message
    assert str(values[0]) + ", " + str(values[1]) not in message
    error = raised.value
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__  # no chained parser errors


def test_payout_commitment_is_sha256_of_wallet_then_salt():
    wallet = Keypair().pubkey()
    salt = bytes(range(32))
    assert payout_commitment(wallet, salt) == hashlib.sha256(bytes(wallet) + salt).digest()


def test_salts_are_32_random_bytes():
    assert len(generate_salt()) == 32
    assert generate_salt() != generate_salt()


def test_payout_secret_round_trip_with_private_modes(tmp_path):
    folder = tmp_path / "secrets"
    pool, wallet, payout = (Keypair().pubkey() for _ in range(3))
    salt = generate_salt()
    path = save_payout_secret(folder, pool, wallet, payout, salt)
    assert mode(path) == 0o600
    assert mode(folder) == 0o700
    secret = load_payout_secret(folder, pool, wallet)
    assert (secret.payout_wallet, secret.salt) == (payout, salt)
    assert secret.commitment == payout_commitment(payout, salt)


def test_saving_the_same_secret_twice_is_fine_but_a_different_one_is_refused(tmp_path):
    pool, wallet, payout = (Keypair().pubkey() for _ in range(3))
    salt = generate_salt()
    save_payout_secret(tmp_path, pool, wallet, payout, salt)
    save_payout_secret(tmp_path, pool, wallet, payout, salt)
    with pytest.raises(PayoutSecretExists):
        save_payout_secret(tmp_path, pool, wallet, payout, generate_salt())


def test_missing_payout_secret(tmp_path):
    with pytest.raises(PayoutSecretNotFound):
        load_payout_secret(tmp_path, Pubkey.default(), Keypair().pubkey())


def test_edited_payout_secret_is_invalid(tmp_path):
    pool, wallet, payout = (Keypair().pubkey() for _ in range(3))
    path = save_payout_secret(tmp_path, pool, wallet, payout, generate_salt())
    body = json.loads(path.read_text())
    body["salt"] = "00" * 32
    path.write_text(json.dumps(body))
    with pytest.raises(PayoutSecretInvalid):
        load_payout_secret(tmp_path, pool, wallet)


def test_garbage_payout_secret_is_invalid(tmp_path):
    pool, wallet = Keypair().pubkey(), Keypair().pubkey()
    payout_secret_path(tmp_path, pool, wallet).write_text("[]")
    with pytest.raises(PayoutSecretInvalid):
        load_payout_secret(tmp_path, pool, wallet)
