"""The agent's local record of updates it committed to but has not seen judged.

A commitment on chain is only a hash: to reveal it the agent needs the exact
bytes it committed to, and they exist nowhere else (uploading them before
the submission phase closes would leak the update). So the bytes are written
here, durably and privately, *before* the commitment is sent, and kept until
the round's verdict has been reported. After a crash the chain says whether
the commitment landed; this folder says what to reveal.

Layout, in the agent's data folder (`<home>/agent/`):

    <pool>/<wallet>/round-<n>.update   the bytes to store and reveal (canonical tensors)
    <pool>/<wallet>/round-<n>.json     {version, round, base_model_hash, update_hash,
                                        num_samples, reveal_hash}

Both files are mode 0600 in 0700 folders, each written atomically (temporary
file, fsync, rename); the `.json` is written last, so an entry exists only
once its bytes do. `update_hash` is the committed hash; `reveal_hash` the
hash of the `.update` bytes (equal for every behaviour but `tampered`), which
`load` checks so a damaged file is never revealed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from solders.pubkey import Pubkey

from client_kit.actions.participant import PreparedUpdate
from client_kit.canonical import canonical_hash
from client_kit.errors import FedstakeError
from client_kit.keys import write_private_file

_VERSION = 1
_ENTRY = re.compile(r"round-([0-9]{1,10})\.json")


class JournalError(FedstakeError):
    """The agent's data folder cannot be written or holds a damaged entry."""


@dataclass(frozen=True)
class PendingUpdate:
    """One round's update as the agent committed to it.

    `update_hash` is the committed hash (the chain holds sha256(update_hash ‖
    wallet)); `reveal` the bytes to store at the reveal (their hash equals
    `update_hash` unless the behaviour is `tampered`); `base_model_hash` the
    global model it was trained from; `num_samples` what the commitment claims.
    """

    round: int
    base_model_hash: bytes
    update_hash: bytes
    num_samples: int
    reveal: bytes

    @property
    def prepared(self) -> PreparedUpdate:
        """What `participant.submit_update` and `participant.reveal_update` take."""
        return PreparedUpdate(self.reveal, self.update_hash)


class UpdateJournal:
    """The pending updates of one wallet in one pool, under `root/<pool>/<wallet>/`."""

    def __init__(self, root: Path, pool: Pubkey, wallet: Pubkey) -> None:
        self.root = Path(root).expanduser()
        self.folder = self.root / str(pool) / str(wallet)

    def _paths(self, number: int) -> tuple[Path, Path]:
        stem = self.folder / f"round-{number}"
        return stem.with_suffix(".json"), stem.with_suffix(".update")

    def save(self, entry: PendingUpdate) -> Path:
        """Writes `entry` durably (bytes first, then the record); returns the
        record's path. Raises `JournalError` when the folder cannot be written."""
        meta, data = self._paths(entry.round)
        record = {
            "version": _VERSION,
            "round": entry.round,
            "base_model_hash": entry.base_model_hash.hex(),
            "update_hash": entry.update_hash.hex(),
            "num_samples": entry.num_samples,
            "reveal_hash": canonical_hash(entry.reveal).hex(),
        }
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.folder.parent.mkdir(mode=0o700, exist_ok=True)
            self.folder.mkdir(mode=0o700, exist_ok=True)
            write_private_file(data, entry.reveal)
            write_private_file(meta, json.dumps(record, indent=1, sort_keys=True) + "\n")
            _sync_folder(self.folder)
        except OSError as exc:
            raise JournalError(
                f"cannot write the agent's data folder {self.folder}: {exc}"
            ) from exc
        return meta

    def load(self, number: int) -> PendingUpdate | None:
        """Round `number`'s entry, or None if there is none. Raises
        `JournalError` for an entry that is unreadable or whose bytes do not
        match their record (never revealed: it would be slashed as another update)."""
        meta, data = self._paths(number)
        try:
            record = json.loads(meta.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise JournalError(f"{meta} is not a readable journal entry: {exc}") from None
        try:
            reveal = data.read_bytes()
            entry = PendingUpdate(
                round=int(record["round"]),
                base_model_hash=bytes.fromhex(record["base_model_hash"]),
                update_hash=bytes.fromhex(record["update_hash"]),
                num_samples=int(record["num_samples"]),
                reveal=reveal,
            )
            expected = bytes.fromhex(record["reveal_hash"])
            version = record["version"]
        except FileNotFoundError:
            raise JournalError(f"{data} is missing: the committed bytes are lost") from None
        except (OSError, KeyError, TypeError, ValueError) as exc:
            raise JournalError(f"{meta} is damaged: {exc}") from None
        if version != _VERSION or entry.round != number:
            raise JournalError(f"{meta} is not a version {_VERSION} entry for round {number}")
        if canonical_hash(reveal) != expected:
            raise JournalError(f"{data} does not hold the bytes its record names")
        return entry

    def rounds(self) -> list[int]:
        """Rounds with an entry, ascending."""
        if not self.folder.is_dir():
            return []
        found = (_ENTRY.fullmatch(p.name) for p in self.folder.iterdir())
        return sorted(int(m.group(1)) for m in found if m)

    def discard(self, number: int) -> None:
        """Removes round `number`'s entry (record first); missing files are fine."""
        for path in self._paths(number):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def _sync_folder(folder: Path) -> None:
    """fsync a folder so the renames into it survive a power cut, where the
    platform allows opening folders."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
