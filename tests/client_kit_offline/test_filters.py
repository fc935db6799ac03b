"""Account filters: offsets from the IDL, the dataSize/memcmp rule applied locally."""

from __future__ import annotations

import base58
import pytest
from hypothesis import given
from hypothesis import strategies as st
from solana.rpc.models import MemcmpOpts
from solders.pubkey import Pubkey

from client_kit.accounts import Participant, decode_account
from client_kit.filters import field_offset, matches, memcmp, pool_filters
from client_kit.idl import load_idl

BASE58_ALPHABET = set("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz")


def participant_bytes(pool: Pubkey) -> bytes:
    idl = load_idl()
    values = {
        "pool": pool, "wallet": Pubkey.new_unique(), "stake": 5, "payout_commitment": b"\x01" * 32,
        "status": 0, "accepted_count": 0, "rejected_count": 0, "reward_accrued": 0,
        "reward_paid": 0, "joined_at": 0, "bump": 255,
    }  # fmt: skip
    fields = idl.type_def("Participant")["fields"]
    values = {f["name"]: values.get(f["name"], 0) for f in fields}
    return idl.account_discriminator("Participant") + idl.encode_fields(fields, values)


def test_offsets_come_from_the_idl_and_agree_with_the_decoder() -> None:
    pool = Pubkey.new_unique()
    data = participant_bytes(pool)
    offset = field_offset("Participant", "pool")
    assert offset == 8 and data[offset : offset + 32] == bytes(pool)
    assert decode_account(Participant, data).pool == pool
    assert field_offset("Pool", "pool_id") == 8 + 32 + 32
    with pytest.raises(KeyError):
        field_offset("Pool", "no_such_field")


def test_matches_applies_every_filter() -> None:
    pool, other = Pubkey.new_unique(), Pubkey.new_unique()
    data = participant_bytes(pool)
    assert matches(data, None) and matches(data, [])
    assert matches(data, [len(data), memcmp(8, bytes(pool))])
    assert not matches(data, [len(data) + 1])
    assert not matches(data, [memcmp(8, bytes(other))])
    assert not matches(data, [memcmp(len(data) - 1, b"\x00\x00")])  # runs past the end
    children = pool_filters(pool, Pubkey.new_unique(), 1)[1:]
    assert any(matches(data, f) for f in children)
    assert not any(matches(data, f) for f in pool_filters(other, Pubkey.new_unique(), 1))


@given(st.binary(max_size=64), st.integers(0, 80), st.binary(min_size=1, max_size=40))
def test_matches_agrees_with_slicing(data: bytes, offset: int, wanted: bytes) -> None:
    expected = data[offset : offset + len(wanted)] == wanted
    assert matches(data, [memcmp(offset, wanted)]) == expected


@given(st.text(max_size=30))
def test_memcmp_bytes_are_base58_or_a_value_error(text: str) -> None:
    untrusted = [MemcmpOpts(offset=0, bytes=text)]
    if set(text) <= BASE58_ALPHABET:
        decoded = base58.b58decode(text)
        assert matches(decoded + b"tail", untrusted)
    else:
        with pytest.raises(ValueError):
            matches(b"\x00" * 8, untrusted)
