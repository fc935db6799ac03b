"""The round record: what the operator judged a round from, and what it decided.

`finalize_round` records the CID of these bytes on the `Round` account
(`record_cid`), beside the global model's hash and CID. With the chain and
storage alone, anyone can then rerun the round (`fedstake verify-round`):
every input that is not on chain is named here by hash and CID, and pinned
in storage by the operator.

Layout: UTF-8 JSON, keys sorted, no whitespace, ASCII only (one record, one
byte string, so one CID). Version 1:

    version          1
    pool             the pool's address (base58)
    round            u32 ≥ 1
    rule             {"name": …, "params": {…}}: the task package's rule
    norm_bound       the declared L2 bound of an update (number > 0) or null
    reward_policy    "Equal" | "Contribution" (the pool's, on chain)
    base             {"hash", "cid"}: the round's base model (the pool's global model)
    previous_base    {"hash", "cid"} of the previous round's base (the previous
                     global delta is base − previous_base), null in round 1
    reference        {"hash", "cid"} of the operator's reference update, or null
    sources          [{"author", "hash", "cid"}]: the updates public before this
                     round's commitments closed (the previous round's accepted
                     revealed updates), sorted by author
    submissions      [{"wallet", "revealed", "update_hash", "cid", "num_samples",
                       "committed_at", "verdict", "reason", "score"}] sorted by wallet;
                     update_hash and cid null when not revealed
    global_model     {"hash", "cid"}: the model `finalize_round` records
    central_dp       present only when the pool's rule adds central DP noise:
                     {"clip", "noise_multiplier", "delta", "accepted", "noise_std",
                      "epsilon_round", "epsilon_total", "noiseless_hash"} — ε of
                     this round and of rounds 1..round from Opacus's RDP accountant,
                     and the hash of the model before the noise (which `verify-round`
                     recomputes; the noise itself is the operator's secret)
    next_round_key   present only in pools with encrypted updates: hex of the
                     X25519 public key participants seal round + 1's updates to
                     (round 1's is in the task package); binding it here puts
                     it on chain through record_cid (docs/PRIVACY.md)

Hashes are lowercase hex of 32 bytes; verdicts are the IDL's variant names,
reasons the u8 codes, scores basis points. `RoundRecord.from_bytes` accepts
exactly what `to_bytes` produces; anything else raises `InvalidRoundRecord`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from solders.pubkey import Pubkey

from client_kit.accounts import Submission
from client_kit.enums import Reason, RewardPolicy, UnknownVariant, Verdict
from client_kit.errors import FedstakeError
from client_kit.storage.cid import is_cid

VERSION = 1
MAX_RECORD_BYTES = 16 * 1024 * 1024
_HEX32 = re.compile(r"^[0-9a-f]{64}$")
_RULE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class InvalidRoundRecord(FedstakeError, ValueError):
    """Bytes or fields that are not a version-1 round record."""


@dataclass(frozen=True)
class Content:
    """A piece of content named by its SHA-256 (32 bytes) and its CID."""

    hash: bytes
    cid: str

    def to_dict(self) -> dict[str, str]:
        return {"hash": self.hash.hex(), "cid": self.cid}

    @classmethod
    def from_dict(cls, obj: object, where: str) -> Content:
        body = _object(obj, where, {"hash", "cid"})
        return cls(_hash(body["hash"], f"{where}.hash"), _cid(body["cid"], f"{where}.cid"))


@dataclass(frozen=True)
class Source:
    """An update public before the round's commitments closed, by its author."""

    author: Pubkey
    hash: bytes
    cid: str

    def to_dict(self) -> dict[str, str]:
        return {"author": str(self.author), "hash": self.hash.hex(), "cid": self.cid}

    @classmethod
    def from_dict(cls, obj: object, where: str) -> Source:
        body = _object(obj, where, {"author", "hash", "cid"})
        return cls(
            _pubkey(body["author"], f"{where}.author"),
            _hash(body["hash"], f"{where}.hash"),
            _cid(body["cid"], f"{where}.cid"),
        )


@dataclass(frozen=True)
class JudgedEntry:
    """One submission of the round: what the chain said of it and its verdict.

    num_samples is the on-chain claim; committed_at the commitment's unix
    time; score basis points of the round's reward (0 unless Accepted).
    """

    wallet: Pubkey
    revealed: bool
    update_hash: bytes | None
    cid: str | None
    num_samples: int
    committed_at: int
    verdict: Verdict
    reason: Reason
    score: int

    @classmethod
    def of_submission(cls, sub: Submission) -> JudgedEntry:
        """The entry a `Submission` account holds (its commitment data and verdict)."""
        return cls(
            wallet=sub.wallet,
            revealed=sub.revealed,
            update_hash=bytes(sub.update_hash) if sub.revealed else None,
            cid=sub.update_cid_str if sub.revealed else None,
            num_samples=int(sub.num_samples),
            committed_at=int(sub.submitted_at),
            verdict=sub.verdict,
            reason=sub.reason,
            score=int(sub.score),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "wallet": str(self.wallet),
            "revealed": self.revealed,
            "update_hash": None if self.update_hash is None else self.update_hash.hex(),
            "cid": self.cid,
            "num_samples": self.num_samples,
            "committed_at": self.committed_at,
            "verdict": self.verdict.value,
            "reason": int(self.reason),
            "score": self.score,
        }

    @classmethod
    def from_dict(cls, obj: object, where: str) -> JudgedEntry:
        keys = {"wallet", "revealed", "update_hash", "cid", "num_samples", "committed_at"}
        body = _object(obj, where, keys | {"verdict", "reason", "score"})
        revealed = body["revealed"]
        if not isinstance(revealed, bool):
            raise InvalidRoundRecord(f"{where}.revealed must be true or false")
        update_hash = body["update_hash"]
        cid = body["cid"]
        if revealed:
            update_hash = _hash(update_hash, f"{where}.update_hash")
            if not isinstance(cid, str) or len(cid) > 64:
                raise InvalidRoundRecord(f"{where}.cid must be the revealed CID text")
        elif update_hash is not None or cid is not None:
            raise InvalidRoundRecord(f"{where}: an unrevealed submission has no hash or CID")
        try:
            verdict = Verdict.from_name(_text(body["verdict"], f"{where}.verdict"))
            reason = Reason(_integer(body["reason"], f"{where}.reason", 0, 255))
            reason_verdict = reason.verdict
        except UnknownVariant as exc:
            raise InvalidRoundRecord(f"{where}: {exc}") from None
        if verdict is not reason_verdict:
            raise InvalidRoundRecord(f"{where}: reason {int(reason)} cannot go with {verdict}")
        score = _integer(body["score"], f"{where}.score", 0, 10_000)
        if score and verdict is not Verdict.ACCEPTED:
            raise InvalidRoundRecord(f"{where}: only an accepted submission has a score")
        return cls(
            wallet=_pubkey(body["wallet"], f"{where}.wallet"),
            revealed=revealed,
            update_hash=update_hash,
            cid=cid,
            num_samples=_integer(body["num_samples"], f"{where}.num_samples", 0, 2**32 - 1),
            committed_at=_integer(body["committed_at"], f"{where}.committed_at", -(2**63), 2**63),
            verdict=verdict,
            reason=reason,
            score=score,
        )


@dataclass(frozen=True)
class CentralDPRecord:
    """What a round's central DP did and spent (see the module docstring):
    clip bound C, noise multiplier σ, δ, the number of accepted updates n,
    the noise std σC/n per coordinate, ε of the round and cumulative, and
    the SHA-256 of the global model before the noise."""

    clip: float
    noise_multiplier: float
    delta: float
    accepted: int
    noise_std: float
    epsilon_round: float
    epsilon_total: float
    noiseless_hash: bytes

    _KEYS = ("clip", "noise_multiplier", "delta", "noise_std", "epsilon_round", "epsilon_total")

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {key: getattr(self, key) for key in self._KEYS}
        return {**body, "accepted": self.accepted, "noiseless_hash": self.noiseless_hash.hex()}

    @classmethod
    def from_dict(cls, obj: object) -> CentralDPRecord:
        body = _object(obj, "central_dp", {*cls._KEYS, "accepted", "noiseless_hash"})
        numbers = {}
        for key in cls._KEYS:
            value = body[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise InvalidRoundRecord(f"central_dp.{key} must be a number ≥ 0")
            numbers[key] = float(value)
        return cls(
            **numbers,
            accepted=_integer(body["accepted"], "central_dp.accepted", 1, 2**32 - 1),
            noiseless_hash=_hash(body["noiseless_hash"], "central_dp.noiseless_hash"),
        )


@dataclass(frozen=True)
class RoundRecord:
    """A judged round, as `finalize_round` points to it (see the module docstring)."""

    pool: Pubkey
    round: int
    rule: str
    params: Mapping[str, bool | int | float | str]
    norm_bound: float | None
    reward_policy: RewardPolicy
    base: Content
    previous_base: Content | None
    reference: Content | None
    sources: tuple[Source, ...]
    submissions: tuple[JudgedEntry, ...]
    global_model: Content
    version: int = field(default=VERSION)
    central_dp: CentralDPRecord | None = None
    next_round_key: bytes | None = None

    def __post_init__(self) -> None:
        if self.next_round_key is not None and (
            not isinstance(self.next_round_key, bytes) or len(self.next_round_key) != 32
        ):
            raise InvalidRoundRecord("next_round_key must be 32 bytes")
        if [s.author for s in self.sources] != sorted((s.author for s in self.sources), key=str):
            object.__setattr__(
                self, "sources", tuple(sorted(self.sources, key=lambda s: str(s.author)))
            )
        if [str(s.wallet) for s in self.submissions] != sorted(
            str(s.wallet) for s in self.submissions
        ):
            object.__setattr__(
                self, "submissions", tuple(sorted(self.submissions, key=lambda s: str(s.wallet)))
            )

    def entry(self, wallet: Pubkey) -> JudgedEntry | None:
        """The submission of `wallet`, if it submitted this round."""
        return next((s for s in self.submissions if s.wallet == wallet), None)

    def accepted_sources(self) -> list[Source]:
        """This round's accepted revealed updates: the next round's `sources`."""
        return [
            Source(s.wallet, s.update_hash, s.cid)
            for s in self.submissions
            if s.verdict is Verdict.ACCEPTED and s.update_hash is not None and s.cid is not None
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "pool": str(self.pool),
            "round": self.round,
            "rule": {"name": self.rule, "params": dict(self.params)},
            "norm_bound": self.norm_bound,
            "reward_policy": self.reward_policy.value,
            "base": self.base.to_dict(),
            "previous_base": None if self.previous_base is None else self.previous_base.to_dict(),
            "reference": None if self.reference is None else self.reference.to_dict(),
            "sources": [s.to_dict() for s in self.sources],
            "submissions": [s.to_dict() for s in self.submissions],
            "global_model": self.global_model.to_dict(),
            **({} if self.central_dp is None else {"central_dp": self.central_dp.to_dict()}),
            **(
                {} if self.next_round_key is None else {"next_round_key": self.next_round_key.hex()}
            ),
        }

    def to_bytes(self) -> bytes:
        """The canonical bytes (what is stored and named by `record_cid`)."""
        text = json.dumps(
            self.to_dict(),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=True,
            allow_nan=False,
        )
        return text.encode("ascii")

    @classmethod
    def from_bytes(cls, data: bytes) -> RoundRecord:
        """Decodes canonical record bytes; `InvalidRoundRecord` for anything else."""
        if not isinstance(data, bytes | bytearray) or len(data) > MAX_RECORD_BYTES:
            raise InvalidRoundRecord(f"a round record is at most {MAX_RECORD_BYTES} bytes")
        try:
            obj = json.loads(bytes(data).decode("ascii"), parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise InvalidRoundRecord("not ASCII JSON") from None
        record = cls._from_dict(obj)
        if record.to_bytes() != bytes(data):
            raise InvalidRoundRecord("not the canonical encoding (sorted keys, no whitespace)")
        return record

    @classmethod
    def _from_dict(cls, obj: object) -> RoundRecord:
        keys = {"version", "pool", "round", "rule", "norm_bound", "reward_policy", "base"}
        keys |= {"previous_base", "reference", "sources", "submissions", "global_model"}
        if isinstance(obj, dict):
            keys |= {"central_dp", "next_round_key"} & set(obj)
        body = _object(obj, "record", keys)
        if body["version"] != VERSION or isinstance(body["version"], bool):
            raise InvalidRoundRecord(f"version must be {VERSION}")
        rule = _object(body["rule"], "rule", {"name", "params"})
        name = _text(rule["name"], "rule.name")
        if not _RULE_NAME.match(name):
            raise InvalidRoundRecord("rule.name is not a rule name")
        params = rule["params"]
        if not isinstance(params, dict) or not all(
            isinstance(v, bool | int | float | str) for v in params.values()
        ):
            raise InvalidRoundRecord("rule.params must map names to numbers, bools or strings")
        bound = body["norm_bound"]
        if bound is not None and (
            isinstance(bound, bool)
            or not isinstance(bound, int | float)
            or not 0 < bound < math.inf
        ):
            raise InvalidRoundRecord("norm_bound must be a positive number or null")
        try:
            policy = RewardPolicy.from_name(_text(body["reward_policy"], "reward_policy"))
        except UnknownVariant as exc:
            raise InvalidRoundRecord(str(exc)) from None
        sources = _list(body["sources"], "sources")
        submissions = _list(body["submissions"], "submissions")
        optional = {
            key: None if body[key] is None else Content.from_dict(body[key], key)
            for key in ("previous_base", "reference")
        }
        return cls(
            pool=_pubkey(body["pool"], "pool"),
            round=_integer(body["round"], "round", 1, 2**32 - 1),
            rule=name,
            params=params,
            norm_bound=None if bound is None else float(bound),
            reward_policy=policy,  # type: ignore[arg-type]
            base=Content.from_dict(body["base"], "base"),
            sources=tuple(Source.from_dict(s, f"sources[{i}]") for i, s in enumerate(sources)),
            submissions=tuple(
                JudgedEntry.from_dict(s, f"submissions[{i}]") for i, s in enumerate(submissions)
            ),
            global_model=Content.from_dict(body["global_model"], "global_model"),
            central_dp=(
                CentralDPRecord.from_dict(body["central_dp"]) if "central_dp" in body else None
            ),
            next_round_key=(
                _hash(body["next_round_key"], "next_round_key")
                if "next_round_key" in body
                else None
            ),
            **optional,
        )


def _reject_constant(name: str) -> Any:
    raise InvalidRoundRecord(f"{name} is not allowed")


def _object(obj: object, where: str, keys: set[str]) -> dict[str, Any]:
    if not isinstance(obj, dict) or set(obj) != keys:
        raise InvalidRoundRecord(f"{where} must be an object with keys {sorted(keys)}")
    return obj


def _list(obj: object, where: str) -> list[Any]:
    if not isinstance(obj, list):
        raise InvalidRoundRecord(f"{where} must be a list")
    return obj


def _text(obj: object, where: str) -> str:
    if not isinstance(obj, str):
        raise InvalidRoundRecord(f"{where} must be a string")
    return obj


def _integer(obj: object, where: str, low: int, high: int) -> int:
    if isinstance(obj, bool) or not isinstance(obj, int) or not low <= obj <= high:
        raise InvalidRoundRecord(f"{where} must be an integer in [{low}, {high}]")
    return obj


def _hash(obj: object, where: str) -> bytes:
    if not isinstance(obj, str) or not _HEX32.match(obj):
        raise InvalidRoundRecord(f"{where} must be 64 lowercase hex digits")
    return bytes.fromhex(obj)


def _cid(obj: object, where: str) -> str:
    if not isinstance(obj, str) or not is_cid(obj):
        raise InvalidRoundRecord(f"{where} must be a CID")
    return obj


def _pubkey(obj: object, where: str) -> Pubkey:
    if not isinstance(obj, str) or not 32 <= len(obj) <= 44:
        raise InvalidRoundRecord(f"{where} must be a base58 address")
    try:
        return Pubkey.from_string(obj)
    except ValueError:
        raise InvalidRoundRecord(f"{where} must be a base58 address") from None
