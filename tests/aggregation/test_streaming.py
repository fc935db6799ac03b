"""Updates judged from disk: the same bytes as in memory, and bad files refused by name."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest

from client_kit.canonical import (
    MalformedUpdate,
    encode_tensors,
    file_hash,
    tensors_hash,
    write_tensors,
)
from offchain.aggregation import RULES, UpdateInput, kernels, make_rule
from offchain.aggregation.mapped import Pieces, locate, open_update

from .test_determinism import round_inputs


@pytest.fixture
def round_on_disk(tmp_path):
    base, updates, reference = round_inputs(7)
    updates[2] = UpdateInput(updates[2].key, {n: v * 40 for n, v in updates[2].tensors.items()}, 5)
    mapped = []
    for update in updates:
        path = tmp_path / f"{update.key}.fstk"
        with open(path, "wb") as handle:
            write_tensors(update.tensors, handle)
        mapped.append(UpdateInput(update.key, open_update(path).tensors, update.num_samples))
    return base, updates, mapped, reference


@pytest.mark.parametrize("backend", kernels.available())
@pytest.mark.parametrize("rule", sorted(RULES))
def test_mapped_updates_give_the_in_memory_bytes(rule: str, backend: str, round_on_disk) -> None:
    # Given one round in memory and the same round as canonical files on disk
    base, updates, mapped, reference = round_on_disk
    assert all(locate(t) is not None for u in mapped for t in u.tensors.values())
    with kernels.using(backend):
        # When judged both ways (the files read piece by piece into small buffers)
        judge = make_rule(rule, workers=2, norm_bound=20.0, reward_policy="contribution")
        here = judge.aggregate(base, updates, reference=reference)
        there = judge.aggregate(base, mapped, reference=reference)
    # Then the global model and every verdict are identical
    assert there.model_hash() == here.model_hash()
    assert [(v.key, v.reason, v.score_bps) for v in there.verdicts] == [
        (v.key, v.reason, v.score_bps) for v in here.verdicts
    ]


def test_pieces_read_mapped_rows_into_one_buffer(round_on_disk) -> None:
    # Given mapped rows, When a piece is asked for, Then it comes from a buffer, values intact
    _, updates, mapped, _ = round_on_disk
    name = max(updates[0].tensors, key=lambda n: updates[0].tensors[n].size)
    rows = [[u.tensors[name].reshape(-1)] for u in mapped]
    with Pieces(rows, 100, kernels.row_list) as pieces:
        got, start, stop = pieces.get(0, 50, 150)
        assert pieces.buffered and (start, stop) == (0, 100)
        for i, update in enumerate(updates):
            assert np.array_equal(got[i][:100], update.tensors[name].reshape(-1)[50:150])


def test_written_bytes_and_file_hash_match_the_canonical_ones(tmp_path) -> None:
    _, updates, _ = round_inputs(1)
    tensors = dict(updates[0].tensors)
    buffer = io.BytesIO()
    assert write_tensors(tensors, buffer) == len(encode_tensors(tensors))
    assert buffer.getvalue() == encode_tensors(tensors)
    path = tmp_path / "u.fstk"
    path.write_bytes(buffer.getvalue())
    assert (
        file_hash(path, chunk=4096)
        == tensors_hash(tensors)
        == hashlib.sha256(path.read_bytes()).digest()
    )


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda data: b"", "truncated"),
        (lambda data: b"NOPE" + data[4:], "magic"),
        (lambda data: data[:-3], "truncated"),
        (lambda data: data + b"\x00", "trailing"),
    ],
)
def test_a_bad_file_is_refused_by_name(tmp_path, damage, reason: str) -> None:
    # Given canonical bytes damaged on disk, When opened, Then MalformedUpdate names the fault
    _, updates, _ = round_inputs(1)
    path = tmp_path / "bad.fstk"
    path.write_bytes(damage(encode_tensors(updates[0].tensors)))
    with pytest.raises(MalformedUpdate) as caught:
        open_update(path)
    assert caught.value.reason == reason
