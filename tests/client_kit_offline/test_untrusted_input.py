"""Bytes from other people (storage, the chain, logs, the command line) reach
only decoders that answer with a named error: each reported case with its
right value, then property-based fuzzing of every decoder (hypothesis)."""

from __future__ import annotations

import base64
import contextlib
import struct

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from solders.keypair import Keypair

from client_kit.accounts import (
    ACCOUNT_TYPES,
    AccountDecodeError,
    Pool,
    Round,
    decode_account,
)
from client_kit.amounts import InvalidAmount, parse_sol
from client_kit.canonical import (
    MAGIC,
    MalformedUpdate,
    decode_tensors,
    encode_tensors,
    tensors_hash,
)
from client_kit.enums import PoolStatus, RewardPolicy
from client_kit.events import EventDecodeError, PoolFunded, events_from_logs, parse_event
from client_kit.idl import IdlCodecError, load_idl
from client_kit.storage.cid import Cid, parse_cid
from client_kit.storage.errors import InvalidCid
from client_kit.training.task import InvalidTaskPackage, TaskPackage

IDL = load_idl()
PROGRAM = str(IDL.address)
OTHER = str(Keypair().pubkey())
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- 6a: update bytes -------------------------------------------------------------------


def _one_tensor(dims: list[int]) -> bytes:
    header = MAGIC + struct.pack("<BI", 1, 1) + struct.pack("<H", 1) + b"w"
    return header + struct.pack("<BB", 1, len(dims)) + struct.pack(f"<{len(dims)}Q", *dims)


@pytest.mark.parametrize(
    "data",
    [
        bytes.fromhex("4653544b0101000000010077010200000000000000000000000000000080"),
        _one_tensor([0, 2**64 - 1]),
        _one_tensor([2**40, 2**40, 0]),
    ],
    ids=["dims 0 and 2^63 (the reported 30 bytes)", "dims 0 and 2^64-1", "dims 2^40 2^40 0"],
)
def test_dims_numpy_cannot_hold_are_a_malformed_update(data: bytes) -> None:
    with pytest.raises(MalformedUpdate) as raised:
        decode_tensors(data)
    assert raised.value.reason == "shape"


def test_the_reported_bytes_are_one_empty_looking_tensor() -> None:
    data = bytes.fromhex("4653544b0101000000010077010200000000000000000000000000000080")
    assert len(data) == 30 and data == _one_tensor([0, 2**63])


@pytest.mark.parametrize("encode", [encode_tensors, tensors_hash])
def test_a_bfloat16_tensor_is_a_named_error(encode) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MalformedUpdate) as raised:
        encode({"w": torch.zeros(3, dtype=torch.bfloat16)})
    assert raised.value.reason == "dtype"


def test_zero_sized_tensors_still_round_trip() -> None:
    tensors = {"a": np.zeros((0, 5), np.float32), "b": np.ones(2, np.float64)}
    again = decode_tensors(encode_tensors(tensors))
    assert again["a"].shape == (0, 5) and again["b"].tolist() == [1.0, 1.0]


# --- 6b: borsh strictness ---------------------------------------------------------------


def _round_bytes(**overrides: object) -> bytearray:
    values: dict[str, object] = {
        "pool": Keypair().pubkey(),
        "round": 1,
        "opened_at": 10,
        "deadline": 20,
        "reveal_deadline": 25,
        "expires_at": 26,
        "base_model_hash": bytes(32),
        "global_model_hash": bytes(32),
        "global_model_cid": bytes(64),
        "record_cid": bytes(64),
        "eligible_count": 2,
        "submission_count": 2,
        "revealed_count": 2,
        "judged_count": 2,
        "accepted_count": 1,
        "excluded_count": 1,
        "slashed_count": 0,
        "total_score": 10_000,
        "reward_budget": 5,
        "reward_accrued": 5,
        "finalized": True,
        "finalized_at": 30,
        "bump": 255,
    }
    values.update(overrides)
    fields = IDL.type_def("Round")["fields"]
    return bytearray(IDL.account_discriminator("Round") + IDL.encode_fields(fields, values))


def test_a_bool_byte_other_than_0_or_1_is_a_decode_error() -> None:
    data = _round_bytes()
    assert decode_account(Round, bytes(data)).finalized is True
    offset = IDL.layout("Round")["finalized"].offset
    data[offset] = 2
    with pytest.raises(AccountDecodeError, match="neither 0 nor 1"):
        decode_account(Round, bytes(data))


def test_an_enum_tag_out_of_range_is_a_decode_error() -> None:
    pool = Pool.NAME
    fields = IDL.type_def(pool)["fields"]
    values = {f["name"]: 0 for f in fields}
    values |= {
        "organization": Keypair().pubkey(),
        "aggregator": Keypair().pubkey(),
        "task_cid": b"",
        "global_model_hash": b"",
        "global_model_cid": b"",
        "status": PoolStatus.TRAINING,
        "reward_policy": RewardPolicy.EQUAL,
    }
    data = bytearray(IDL.account_discriminator(pool) + IDL.encode_fields(fields, values))
    assert decode_account(Pool, bytes(data)).status is PoolStatus.TRAINING
    data[IDL.layout(pool)["status"].offset] = len(PoolStatus)
    with pytest.raises(AccountDecodeError, match="out of range"):
        decode_account(Pool, bytes(data))


def test_trailing_bytes_are_a_decode_error() -> None:
    with pytest.raises(AccountDecodeError, match="trailing"):
        decode_account(Round, bytes(_round_bytes()) + b"\x00")
    event = IDL.event_discriminator("PoolClosed") + bytes(64) + struct.pack("<Q", 1)
    assert parse_event(event) is not None
    with pytest.raises(EventDecodeError, match="trailing"):
        parse_event(event + b"\x00")


# --- 6c: event attribution --------------------------------------------------------------


def _pool_funded() -> str:
    payload = IDL.event_discriminator("PoolFunded") + IDL.encode_fields(
        IDL.type_def("PoolFunded")["fields"],
        {"pool": Keypair().pubkey(), "funder": Keypair().pubkey(), "amount": 7, "total_funded": 7},
    )
    return "Program data: " + base64.b64encode(payload).decode()


def test_data_logged_by_another_program_is_not_a_fedstake_event() -> None:
    logs = [f"Program {OTHER} invoke [1]", _pool_funded(), f"Program {OTHER} success"]
    assert events_from_logs(logs) == []


def test_only_lines_logged_while_fedstake_runs_count() -> None:
    ours, theirs = _pool_funded(), _pool_funded()
    logs = [
        f"Program {PROGRAM} invoke [1]",
        ours,
        f"Program {OTHER} invoke [2]",  # a CPI out of fedstake logs look-alike bytes
        theirs,
        f"Program {OTHER} success",
        f"Program {PROGRAM} consumed 1000 of 200000 compute units",
        f"Program {PROGRAM} success",
        theirs,  # after fedstake returned
        f"Program {OTHER} invoke [1]",
        f"Program {PROGRAM} invoke [2]",  # fedstake called by another program: its own logs count
        ours,
        f"Program {PROGRAM} failed: custom program error: 0x1770",
        f"Program {OTHER} failed: custom program error: 0x1770",
    ]
    found = events_from_logs(logs)
    assert [type(e) for e in found] == [PoolFunded, PoolFunded]
    assert all(e.amount == 7 for e in found)


# --- 6e: amounts ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("NaN", "not a finite amount"),
        ("Infinity", "not a finite amount"),
        ("-1", "cannot be negative"),
        ("1e400", "more than the program can hold"),
        ("0.0000000001", "finer than one lamport"),
        ("18446744073.709551616", "more than the program can hold"),
        ("one", "not an amount"),
    ],
)
def test_bad_amounts_are_named(text: str, problem: str) -> None:
    with pytest.raises(InvalidAmount, match=problem):
        parse_sol(text)


def test_good_amounts_are_exact_lamports() -> None:
    assert parse_sol("0.5") == 500_000_000
    assert parse_sol("1e-9") == 1
    assert parse_sol("18446744073.709551615") == 2**64 - 1


# --- 6f: fuzzing every decoder of untrusted bytes ----------------------------------------


EDGE_DIMS = [0, 1, 2, 3, 2**31, 2**32, 2**40, 2**62, 2**63, 2**64 - 1]


@st.composite
def tensor_files(draw: st.DrawFn) -> bytes:
    """Random bytes, mostly shaped like a tensor file (valid header, names in
    order, known dtypes, edge-case dims) so decoding gets deep."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=200))
    count = draw(st.integers(0, 3))
    head = MAGIC + struct.pack("<BI", draw(st.sampled_from([1, 1, 1, 2])), count)
    name_text = st.text(alphabet="abcdé", min_size=1, max_size=3).map(str.encode)
    names = sorted(
        draw(
            st.lists(
                name_text | st.binary(min_size=1, max_size=3),
                min_size=count,
                max_size=count,
                unique=True,
            )
        )
    )
    for name in names:
        ndim = draw(st.integers(1, 4) | st.integers(0, 9))
        dims = [draw(st.sampled_from(EDGE_DIMS)) for _ in range(min(ndim, 8))]
        head += struct.pack("<H", len(name)) + name
        head += struct.pack("<BB", draw(st.integers(1, 5) | st.integers(0, 255)), ndim)
        head += struct.pack(f"<{len(dims)}Q", *dims) + draw(st.binary(max_size=16))
    return head + draw(st.binary(max_size=8))


@FUZZ
@given(tensor_files())
def test_fuzz_decode_tensors_raises_only_malformed_update(data: bytes) -> None:
    try:
        tensors = decode_tensors(data)
    except MalformedUpdate:
        return
    assert encode_tensors(tensors) == data  # what decodes is canonical


@FUZZ
@given(st.sampled_from(sorted(t["name"] for t in IDL.raw["types"])), st.binary(max_size=400))
def test_fuzz_idl_coder_raises_only_codec_errors(type_name: str, data: bytes) -> None:
    with contextlib.suppress(IdlCodecError):
        IDL.decode({"defined": {"name": type_name}}, data, 0)


@FUZZ
@given(st.sampled_from(sorted(ACCOUNT_TYPES)), st.data())
def test_fuzz_account_decoders_raise_only_account_decode_error(name: str, data) -> None:  # type: ignore[no-untyped-def]
    cls = ACCOUNT_TYPES[name]
    size = 8 + sum(slot.size for slot in IDL.layout(name).values())
    body = data.draw(
        st.binary(min_size=0, max_size=size + 2) | st.binary(min_size=size - 8, max_size=size - 8)
    )
    raw = IDL.account_discriminator(name) + body if data.draw(st.booleans()) else body
    with contextlib.suppress(AccountDecodeError):
        decode_account(cls, raw)


@FUZZ
@given(st.sampled_from([e["name"] for e in IDL.raw["events"]]), st.binary(max_size=200))
def test_fuzz_event_decoder_raises_only_event_decode_error(name: str, body: bytes) -> None:
    with contextlib.suppress(EventDecodeError):
        parse_event(IDL.event_discriminator(name) + body)


@FUZZ
@given(
    st.lists(
        st.one_of(
            st.sampled_from(
                [
                    f"Program {PROGRAM} invoke [1]",
                    f"Program {PROGRAM} success",
                    f"Program {OTHER} invoke [2]",
                ]
            ),
            st.builds(
                lambda b: "Program data: " + base64.b64encode(b).decode(), st.binary(max_size=120)
            ),
            st.builds(
                lambda name, b: (
                    "Program data: " + base64.b64encode(IDL.event_discriminator(name) + b).decode()
                ),
                st.sampled_from([e["name"] for e in IDL.raw["events"]]),
                st.binary(max_size=120),
            ),
            st.text(max_size=60).map(lambda t: "Program data: " + t),
            st.text(max_size=60),
        ),
        max_size=12,
    )
)
def test_fuzz_log_parsing_raises_only_event_decode_error(logs: list[str]) -> None:
    with contextlib.suppress(EventDecodeError):
        events_from_logs(logs)


@FUZZ
@given(
    st.one_of(
        st.text(max_size=80),
        st.text(alphabet="bafkreiyz234567BQmzf0123456789abcdef", max_size=70),
        st.builds(
            lambda b: "b" + base64.b32encode(b).decode().rstrip("=").lower(), st.binary(max_size=50)
        ),
    )
)
def test_fuzz_cid_parsing_raises_only_invalid_cid(text: str) -> None:
    with contextlib.suppress(InvalidCid):
        parse_cid(text)


@FUZZ
@given(st.binary(max_size=60))
def test_fuzz_binary_cids_raise_only_invalid_cid(data: bytes) -> None:
    with contextlib.suppress(InvalidCid):
        Cid.from_bytes(data)


@FUZZ
@given(st.binary(max_size=300).map(lambda b: b"FSTASK\x01" + b if b[:1] == b"\x00" else b))
def test_fuzz_task_packages_raise_only_invalid_task_package(data: bytes) -> None:
    with contextlib.suppress(InvalidTaskPackage):
        TaskPackage.from_bytes(data)
