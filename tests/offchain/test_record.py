"""The round record: canonical bytes that round-trip, and a strict decoder of
untrusted bytes (anyone can store anything under a CID)."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from solders.keypair import Keypair

from client_kit.enums import Reason, RewardPolicy, Verdict
from client_kit.storage.cid import compute_cid
from offchain.record import Content, InvalidRoundRecord, JudgedEntry, RoundRecord, Source


def content(tag: bytes) -> Content:
    return Content(bytes(32 * [tag[0]]), compute_cid(tag))


def key(n: int):  # type: ignore[no-untyped-def]
    return Keypair.from_seed(bytes([n]) * 32).pubkey()


def record() -> RoundRecord:
    a, b = key(1), key(2)
    return RoundRecord(
        pool=key(3),
        round=2,
        rule="trusted_mean",
        params={"sigmas": 3.0},
        norm_bound=5.5,
        reward_policy=RewardPolicy.CONTRIBUTION,
        base=content(b"b"),
        previous_base=content(b"p"),
        reference=content(b"r"),
        sources=(Source(a, bytes(32 * [7]), compute_cid(b"s")),),
        submissions=(
            JudgedEntry(
                a,
                True,
                bytes(32 * [1]),
                compute_cid(b"a"),
                10,
                5,
                Verdict.ACCEPTED,
                Reason.OK,
                10_000,
            ),
            JudgedEntry(b, False, None, None, 10, 6, Verdict.SLASHED, Reason.NOT_REVEALED, 0),
        ),
        global_model=content(b"g"),
    )


def test_a_record_round_trips_through_its_canonical_bytes() -> None:
    original = record()
    data = original.to_bytes()
    assert RoundRecord.from_bytes(data) == original
    assert data == json.dumps(json.loads(data), sort_keys=True, separators=(",", ":")).encode()
    accepted = [e.wallet for e in original.submissions if e.verdict is Verdict.ACCEPTED]
    assert [s.author for s in original.accepted_sources()] == accepted


def every(body: dict, **fields: object) -> None:
    for entry in body["submissions"]:
        entry.update(fields)


def _mutated(change) -> bytes:  # type: ignore[no-untyped-def]
    body = json.loads(record().to_bytes())
    change(body)
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


@pytest.mark.parametrize(
    "change",
    [
        lambda b: b.update(version=2),
        lambda b: b.update(extra=1),
        lambda b: b.pop("sources"),
        lambda b: b.update(round=0),
        lambda b: b.update(norm_bound=-1),
        lambda b: b.update(reward_policy="Generous"),
        lambda b: b["base"].update(hash="00"),
        lambda b: b["base"].update(cid="not a cid"),
        lambda b: every(b, score=5, verdict="Excluded", reason=68),
        lambda b: every(b, reason=64, verdict="Slashed"),  # a doubt cannot slash
        lambda b: every(b, revealed=False),  # unrevealed with a hash
        lambda b: every(b, wallet="0OIl"),
        lambda b: every(b, revealed=1),
    ],
)
def test_malformed_records_are_refused_by_name(change) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidRoundRecord):
        RoundRecord.from_bytes(_mutated(change))


def test_a_non_canonical_spelling_is_refused() -> None:
    body = json.loads(record().to_bytes())
    with pytest.raises(InvalidRoundRecord, match="canonical"):
        RoundRecord.from_bytes(json.dumps(body, indent=1).encode())


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2_000))
def test_arbitrary_bytes_decode_or_raise_the_named_error(data: bytes) -> None:
    with contextlib.suppress(InvalidRoundRecord):
        RoundRecord.from_bytes(data)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutated_records_decode_or_raise_the_named_error(data: st.DataObject) -> None:
    raw = bytearray(record().to_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    with contextlib.suppress(InvalidRoundRecord):
        RoundRecord.from_bytes(bytes(raw))
