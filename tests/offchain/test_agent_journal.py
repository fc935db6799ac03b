"""The agent's update journal: what it keeps between a commitment and its
verdict, private, durable, and never revealed if damaged."""

from __future__ import annotations

import json
import stat

import numpy as np
import pytest
from solders.keypair import Keypair

from client_kit.canonical import canonical_hash, encode_tensors
from offchain.agent import JournalError, PendingUpdate, UpdateJournal

POOL, WALLET = Keypair().pubkey(), Keypair().pubkey()


def _entry(number: int = 1, value: float = 0.5) -> PendingUpdate:
    data = encode_tensors({"w": np.full((2, 3), value, np.float32)})
    return PendingUpdate(number, b"\x01" * 32, canonical_hash(data), 64, data)


def test_an_entry_round_trips_and_is_private(tmp_path) -> None:
    journal = UpdateJournal(tmp_path / "agent", POOL, WALLET)
    record = journal.save(_entry(3))
    assert journal.load(3) == _entry(3)
    assert journal.load(4) is None
    for path in (record, record.with_suffix(".update")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for folder in (journal.folder, journal.folder.parent, journal.root):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert journal.folder == tmp_path / "agent" / str(POOL) / str(WALLET)


def test_a_tampered_entry_keeps_the_committed_hash_apart_from_its_bytes(tmp_path) -> None:
    journal = UpdateJournal(tmp_path, POOL, WALLET)
    honest, other = _entry(1, 0.5), _entry(1, 1.5)
    journal.save(PendingUpdate(1, honest.base_model_hash, honest.update_hash, 64, other.reveal))
    loaded = journal.load(1)
    assert loaded is not None
    assert loaded.prepared.update_hash == honest.update_hash
    assert loaded.prepared.data == other.reveal


def test_rounds_are_listed_and_discarded(tmp_path) -> None:
    journal = UpdateJournal(tmp_path, POOL, WALLET)
    assert journal.rounds() == []
    for number in (2, 10, 1):
        journal.save(_entry(number))
    (journal.folder / "notes.txt").write_text("not an entry")
    assert journal.rounds() == [1, 2, 10]
    journal.discard(2)
    journal.discard(7)  # nothing there: fine
    assert journal.rounds() == [1, 10]
    assert not (journal.folder / "round-2.update").exists()


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda meta, data: data.write_bytes(data.read_bytes()[:-1] + b"\x00"), "does not hold"),
        (lambda meta, data: data.unlink(), "committed bytes are lost"),
        (lambda meta, data: meta.write_text("{not json"), "not a readable journal entry"),
        (lambda meta, data: meta.write_text(json.dumps({"version": 1})), "damaged"),
        (
            lambda meta, data: meta.write_text(
                json.dumps({**json.loads(meta.read_text()), "round": 9})
            ),
            "not a version 1 entry for round 1",
        ),
    ],
)
def test_a_damaged_entry_is_a_named_error(tmp_path, damage, match) -> None:
    journal = UpdateJournal(tmp_path, POOL, WALLET)
    meta = journal.save(_entry(1))
    damage(meta, meta.with_suffix(".update"))
    with pytest.raises(JournalError, match=match):
        journal.load(1)


def test_an_unwritable_folder_is_a_named_error(tmp_path) -> None:
    (tmp_path / "agent").write_text("a file where the folder should be")
    with pytest.raises(JournalError, match="cannot write the agent's data folder"):
        UpdateJournal(tmp_path / "agent", POOL, WALLET).save(_entry())
