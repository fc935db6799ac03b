"""The operator's journal: a round's decisions, written durably before anything is sent.

One SQLite file in the operator's data folder (`<data>/operator.sqlite3`,
WAL, `synchronous=FULL`: a committed write survives a power cut). The
coordinator writes, in this order, each step in its own transaction:

1. `decide`: the verdicts and scores, the global model's bytes and hash, the
   round record's bytes — all before the first `judge_submission` is sent;
2. `verdict_sent`: one per verdict once its transaction landed (or was found
   already on chain);
3. `stored`: the CIDs of the stored global model and round record;
4. `finalized`: the `finalize_round` signature (or that the chain already
   had it);
5. `evaluated`: the operator's evaluation of the new global model.

After a crash the coordinator resumes from the last step recorded here and
the chain (the source of truth for what landed): a verdict journaled but not
marked sent is first looked up on chain, so each submission is judged
exactly once, and the global model is the journaled bytes, so its hash is
the one an uninterrupted run records.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from solders.pubkey import Pubkey

from client_kit.enums import Reason, Verdict
from client_kit.errors import FedstakeError
from offchain.judging import JudgedSubmission, RoundDecision

FILENAME = "operator.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS rounds (
    pool TEXT NOT NULL,
    round INTEGER NOT NULL,
    global_hash BLOB NOT NULL,
    global_model BLOB NOT NULL,
    global_cid TEXT NOT NULL,
    record BLOB NOT NULL,
    stored_model_cid TEXT,
    stored_record_cid TEXT,
    finalized_signature TEXT,
    evaluation TEXT,
    decided_at REAL NOT NULL,
    PRIMARY KEY (pool, round)
);
CREATE TABLE IF NOT EXISTS verdicts (
    pool TEXT NOT NULL,
    round INTEGER NOT NULL,
    wallet TEXT NOT NULL,
    verdict TEXT NOT NULL,
    reason INTEGER NOT NULL,
    score INTEGER NOT NULL,
    signature TEXT,
    PRIMARY KEY (pool, round, wallet),
    FOREIGN KEY (pool, round) REFERENCES rounds (pool, round)
);
"""


class JournalError(FedstakeError):
    """The journal cannot be opened or holds something it should not."""


@dataclass(frozen=True)
class JournaledVerdict:
    """A journaled verdict; `signature` is None until it is known on chain
    ("on-chain" when it was found there rather than sent by this process)."""

    judged: JudgedSubmission
    signature: str | None


@dataclass(frozen=True)
class JournaledRound:
    """What the journal knows of one round (see the module docstring)."""

    pool: Pubkey
    round: int
    global_hash: bytes
    global_model: bytes
    global_cid: str
    record: bytes
    verdicts: list[JournaledVerdict]
    stored_model_cid: str | None
    stored_record_cid: str | None
    finalized_signature: str | None
    evaluation: dict | None

    @property
    def pending(self) -> list[JudgedSubmission]:
        """Verdicts not yet known to be on chain, in wallet order."""
        return [v.judged for v in self.verdicts if v.signature is None]

    @property
    def stored(self) -> bool:
        return self.stored_record_cid is not None

    @property
    def finalized(self) -> bool:
        return self.finalized_signature is not None


class Journal:
    """The SQLite journal at `path` (a file, or a folder holding `operator.sqlite3`).

    Single-writer: one operator process per data folder. Raises `JournalError`
    when the file cannot be opened.
    """

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        if path.is_dir() or not path.suffix:
            path.mkdir(parents=True, exist_ok=True)
            path = path / FILENAME
        self.path = path
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise JournalError(f"cannot open the journal at {path}: {exc}") from exc

    def close(self) -> None:
        self._db.close()

    def _write(self, statements: list[tuple[str, tuple]]) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            for sql, args in statements:
                self._db.execute(sql, args)
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise JournalError(f"journal write failed: {exc}") from exc

    # --- writes (in the order of the module docstring) ------------------
    def decide(self, pool: Pubkey, decision: RoundDecision) -> JournaledRound:
        """Records a round's decisions (once: a second call keeps the first)."""
        found = self.round(pool, decision.round)
        if found is not None:
            return found
        statements: list[tuple[str, tuple]] = [
            (
                "INSERT INTO rounds (pool, round, global_hash, global_model, global_cid, record,"
                " decided_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    str(pool),
                    decision.round,
                    decision.global_hash,
                    decision.global_model,
                    decision.global_cid,
                    decision.record_bytes,
                    time.time(),
                ),
            )
        ]
        for j in decision.judged:
            statements.append(
                (
                    "INSERT INTO verdicts (pool, round, wallet, verdict, reason, score)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        str(pool),
                        decision.round,
                        str(j.wallet),
                        j.verdict.value,
                        int(j.reason),
                        j.score_bps,
                    ),
                )
            )
        self._write(statements)
        found = self.round(pool, decision.round)
        assert found is not None
        return found

    def verdict_sent(self, pool: Pubkey, number: int, wallet: Pubkey, signature: str) -> None:
        self._write(
            [
                (
                    "UPDATE verdicts SET signature = ? WHERE pool = ? AND round = ? AND wallet = ?",
                    (signature, str(pool), number, str(wallet)),
                )
            ]
        )

    def stored(self, pool: Pubkey, number: int, model_cid: str, record_cid: str) -> None:
        self._write(
            [
                (
                    "UPDATE rounds SET stored_model_cid = ?, stored_record_cid = ?"
                    " WHERE pool = ? AND round = ?",
                    (model_cid, record_cid, str(pool), number),
                )
            ]
        )

    def finalized(self, pool: Pubkey, number: int, signature: str) -> None:
        self._write(
            [
                (
                    "UPDATE rounds SET finalized_signature = ? WHERE pool = ? AND round = ?",
                    (signature, str(pool), number),
                )
            ]
        )

    def evaluated(self, pool: Pubkey, number: int, evaluation: dict) -> None:
        self._write(
            [
                (
                    "UPDATE rounds SET evaluation = ? WHERE pool = ? AND round = ?",
                    (json.dumps(evaluation, sort_keys=True), str(pool), number),
                )
            ]
        )

    # --- reads ------------------------------------------------------------
    def round(self, pool: Pubkey, number: int) -> JournaledRound | None:
        """The journaled round, or None if nothing was decided for it."""
        row = self._db.execute(
            "SELECT global_hash, global_model, global_cid, record, stored_model_cid,"
            " stored_record_cid, finalized_signature, evaluation FROM rounds"
            " WHERE pool = ? AND round = ?",
            (str(pool), number),
        ).fetchone()
        if row is None:
            return None
        verdicts = [
            JournaledVerdict(
                JudgedSubmission(
                    Pubkey.from_string(wallet), Verdict.from_name(verdict), Reason(reason), score
                ),
                signature,
            )
            for wallet, verdict, reason, score, signature in self._db.execute(
                "SELECT wallet, verdict, reason, score, signature FROM verdicts"
                " WHERE pool = ? AND round = ? ORDER BY wallet",
                (str(pool), number),
            )
        ]
        return JournaledRound(
            pool=pool,
            round=number,
            global_hash=bytes(row[0]),
            global_model=bytes(row[1]),
            global_cid=row[2],
            record=bytes(row[3]),
            verdicts=verdicts,
            stored_model_cid=row[4],
            stored_record_cid=row[5],
            finalized_signature=row[6],
            evaluation=None if row[7] is None else json.loads(row[7]),
        )

    def unfinished(self, pool: Pubkey) -> list[int]:
        """Rounds of `pool` decided but not known to be finalized, oldest first."""
        return [
            number
            for (number,) in self._db.execute(
                "SELECT round FROM rounds WHERE pool = ? AND finalized_signature IS NULL"
                " ORDER BY round",
                (str(pool),),
            )
        ]

    def summary(self) -> list[dict]:
        """Every journaled round, without model bytes: pool, round, verdicts
        journaled and sent, global hash, finalized, evaluation."""
        rows = self._db.execute(
            "SELECT r.pool, r.round, hex(r.global_hash), r.finalized_signature, r.evaluation,"
            " count(v.wallet), count(v.signature) FROM rounds r LEFT JOIN verdicts v"
            " ON v.pool = r.pool AND v.round = r.round GROUP BY r.pool, r.round"
            " ORDER BY r.pool, r.round"
        )
        return [
            {
                "pool": pool,
                "round": number,
                "global_hash": hash_hex.lower(),
                "finalized": signature is not None,
                "evaluation": None if evaluation is None else json.loads(evaluation),
                "verdicts": verdicts,
                "verdicts_on_chain": sent,
            }
            for pool, number, hash_hex, signature, evaluation, verdicts, sent in rows
        ]

    def rounds(self, pool: Pubkey) -> list[JournaledRound]:
        """Every journaled round of `pool`, oldest first."""
        numbers = [
            n
            for (n,) in self._db.execute(
                "SELECT round FROM rounds WHERE pool = ? ORDER BY round", (str(pool),)
            )
        ]
        return [r for n in numbers if (r := self.round(pool, n)) is not None]
