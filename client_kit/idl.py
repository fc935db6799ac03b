"""Reads the program's Anchor IDL (spec 0.1.0) and encodes/decodes borsh by it.

anchorpy 0.21 cannot read Anchor ≥0.30 IDLs and pins solana-py 0.36, which
conflicts with the solana 0.41 / solders 0.29 stack, so this small coder covers
exactly the types the fedstake IDL uses (integers, bool, pubkey, byte arrays,
unit enums, structs). Discriminators always come from the IDL.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from solders.pubkey import Pubkey

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_IDL_PATH = REPO_ROOT / "target" / "idl" / "fedstake.json"

_INTS = {"u8": "<B", "u16": "<H", "u32": "<I", "u64": "<Q", "i64": "<q", "i32": "<i"}


class IdlCodecError(ValueError):
    """Bytes or values that do not fit the IDL layout."""


@dataclass(frozen=True)
class Idl:
    raw: dict[str, Any]

    @property
    def address(self) -> Pubkey:
        return Pubkey.from_string(self.raw["address"])

    def instruction(self, name: str) -> dict[str, Any]:
        for ix in self.raw["instructions"]:
            if ix["name"] == name:
                return ix
        raise KeyError(f"instruction {name!r} not in IDL")

    def type_def(self, name: str) -> dict[str, Any]:
        for entry in self.raw["types"]:
            if entry["name"] == name:
                return entry["type"]
        raise KeyError(f"type {name!r} not in IDL")

    def account_discriminator(self, name: str) -> bytes:
        return _find_disc(self.raw["accounts"], name)

    def event_discriminator(self, name: str) -> bytes:
        return _find_disc(self.raw["events"], name)

    def errors_by_code(self) -> dict[int, tuple[str, str]]:
        return {e["code"]: (e["name"], e.get("msg", "")) for e in self.raw["errors"]}

    # --- borsh -----------------------------------------------------------
    def encode(self, idl_type: Any, value: Any) -> bytes:
        if isinstance(idl_type, str):
            if idl_type in _INTS:
                try:
                    return struct.pack(_INTS[idl_type], value)
                except struct.error as exc:
                    raise IdlCodecError(f"{value!r} does not fit {idl_type}") from exc
            if idl_type == "bool":
                return b"\x01" if value else b"\x00"
            if idl_type == "pubkey":
                return bytes(value if isinstance(value, Pubkey) else Pubkey.from_string(value))
        if isinstance(idl_type, dict) and "array" in idl_type:
            _, length = idl_type["array"]
            data = bytes(value)
            if len(data) > length:
                raise IdlCodecError(f"{len(data)} bytes do not fit [u8; {length}]")
            return data.ljust(length, b"\x00")
        if isinstance(idl_type, dict) and "defined" in idl_type:
            type_def = self.type_def(idl_type["defined"]["name"])
            if type_def["kind"] == "enum":
                names = [v["name"] for v in type_def["variants"]]
                index = value if isinstance(value, int) else names.index(value)
                return struct.pack("<B", index)
            return self.encode_fields(type_def["fields"], value)
        raise IdlCodecError(f"unsupported IDL type {idl_type!r}")

    def encode_fields(self, fields: list[dict[str, Any]], values: dict[str, Any]) -> bytes:
        missing = [f["name"] for f in fields if f["name"] not in values]
        if missing:
            raise IdlCodecError(f"missing fields: {', '.join(missing)}")
        return b"".join(self.encode(f["type"], values[f["name"]]) for f in fields)

    def decode(self, idl_type: Any, data: bytes, offset: int) -> tuple[Any, int]:
        try:
            if isinstance(idl_type, str):
                if idl_type in _INTS:
                    fmt = _INTS[idl_type]
                    return struct.unpack_from(fmt, data, offset)[0], offset + struct.calcsize(fmt)
                if idl_type == "bool":
                    return data[offset] == 1, offset + 1
                if idl_type == "pubkey":
                    if offset + 32 > len(data):
                        raise IdlCodecError("truncated pubkey")
                    return Pubkey.from_bytes(data[offset : offset + 32]), offset + 32
            if isinstance(idl_type, dict) and "array" in idl_type:
                _, length = idl_type["array"]
                if offset + length > len(data):
                    raise IdlCodecError("truncated array")
                return bytes(data[offset : offset + length]), offset + length
            if isinstance(idl_type, dict) and "defined" in idl_type:
                name = idl_type["defined"]["name"]
                type_def = self.type_def(name)
                if type_def["kind"] == "enum":
                    index = data[offset]
                    variants = type_def["variants"]
                    if index >= len(variants):
                        raise IdlCodecError(f"{name}: variant {index} out of range")
                    return variants[index]["name"], offset + 1
                return self.decode_fields(type_def["fields"], data, offset)
        except (struct.error, IndexError) as exc:
            raise IdlCodecError(f"truncated data for {idl_type!r}") from exc
        raise IdlCodecError(f"unsupported IDL type {idl_type!r}")

    def decode_fields(
        self, fields: list[dict[str, Any]], data: bytes, offset: int
    ) -> tuple[dict[str, Any], int]:
        out: dict[str, Any] = {}
        for field in fields:
            out[field["name"]], offset = self.decode(field["type"], data, offset)
        return out, offset


def _find_disc(entries: list[dict[str, Any]], name: str) -> bytes:
    for entry in entries:
        if entry["name"] == name:
            return bytes(entry["discriminator"])
    raise KeyError(f"{name!r} not in IDL")


@cache
def load_idl(path: str | None = None) -> Idl:
    """The IDL at `path`, `$FEDSTAKE_IDL`, or the repository's target/idl."""
    resolved = Path(path or os.environ.get("FEDSTAKE_IDL") or DEFAULT_IDL_PATH)
    if not resolved.is_file():
        raise FileNotFoundError(f"IDL not found at {resolved}: run `make program`")
    return Idl(json.loads(resolved.read_text()))


def cid_to_field(cid: str) -> bytes:
    """A CID string as the program's zero-padded [u8; 64] field."""
    raw = cid.encode("ascii")
    if not raw or len(raw) > 64:
        raise IdlCodecError(f"CID must be 1..64 ASCII bytes, got {len(raw)}")
    return raw.ljust(64, b"\x00")


def field_to_cid(field: bytes) -> str:
    return bytes(field).rstrip(b"\x00").decode("ascii", errors="replace")
