"""Reads the program's Anchor IDL (spec 0.1.0) and encodes/decodes borsh by it.

anchorpy 0.21 reads only pre-0.30 IDLs (the build writes one for it,
`fedstake.legacy.json`) and pins solana-py 0.36, which conflicts with the
solana 0.41 / solders 0.29 stack, so this small coder covers
exactly the types the fedstake IDL uses (integers, bool, pubkey, byte arrays,
unit enums, structs). Discriminators always come from the IDL.

Decoding is as strict as the program's own codec: a bool byte other than 0 or
1, an enum tag past the last variant, or bytes left over after a struct are
`IdlCodecError`s, never a silently wrong value. All these types have a fixed
size, so `layout` gives every field's byte offset (what memcmp filters need).

The IDL comes from the package (`client_kit.program`), or from the path in
`$FEDSTAKE_IDL`, or an explicit path.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Any

from solders.pubkey import Pubkey

from client_kit.enums import IDL_ENUMS, Reason
from client_kit.errors import FedstakeError

# Where `make program` writes the IDL in a checkout. Only checkout tests read
# these (to compare the generator's output with the build output); the client
# itself loads the copy shipped in the package.
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_IDL_PATH = REPO_ROOT / "target" / "idl" / "fedstake.json"

#: fields whose IDL type is a plain u8 but whose meaning is a `Reason` code
REASON_FIELDS = frozenset({"reason"})
_INTS = {"u8": "<B", "u16": "<H", "u32": "<I", "u64": "<Q", "i64": "<q", "i32": "<i"}


class IdlCodecError(FedstakeError, ValueError):
    """Bytes or values that do not fit the IDL layout, or an IDL that lacks a name."""


@dataclass(frozen=True)
class FieldSlot:
    """Where a field of a fixed-size struct sits: byte `offset` (after the
    8-byte discriminator for accounts and events) and `size` in bytes."""

    offset: int
    size: int


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
        raise IdlCodecError(f"instruction {name!r} not in IDL")

    def type_def(self, name: str) -> dict[str, Any]:
        for entry in self.raw["types"]:
            if entry["name"] == name:
                return entry["type"]
        raise IdlCodecError(f"type {name!r} not in IDL")

    def enum_variants(self, name: str) -> list[str]:
        """Variant names of IDL enum type `name`, in tag order."""
        type_def = self.type_def(name)
        if type_def["kind"] != "enum":
            raise IdlCodecError(f"type {name!r} is not an enum")
        return [v["name"] for v in type_def["variants"]]

    def account_discriminator(self, name: str) -> bytes:
        return _find_disc(self.raw["accounts"], name)

    def event_discriminator(self, name: str) -> bytes:
        return _find_disc(self.raw["events"], name)

    def errors_by_code(self) -> dict[int, tuple[str, str]]:
        return {e["code"]: (e["name"], e.get("msg", "")) for e in self.raw["errors"]}

    # --- layout ----------------------------------------------------------
    def size_of(self, idl_type: Any) -> int:
        """Encoded size of a fixed-size IDL type, in bytes."""
        if isinstance(idl_type, str):
            if idl_type in _INTS:
                return struct.calcsize(_INTS[idl_type])
            if idl_type == "bool":
                return 1
            if idl_type == "pubkey":
                return 32
        if isinstance(idl_type, dict) and "array" in idl_type:
            item, length = idl_type["array"]
            return self.size_of(item) * length
        if isinstance(idl_type, dict) and "defined" in idl_type:
            type_def = self.type_def(idl_type["defined"]["name"])
            if type_def["kind"] == "enum":
                return 1
            return sum(self.size_of(f["type"]) for f in type_def["fields"])
        raise IdlCodecError(f"unsupported IDL type {idl_type!r}")

    def layout(self, struct_name: str, start: int = 8) -> dict[str, FieldSlot]:
        """Offset and size of each field of struct `struct_name`, starting at
        byte `start` (8: after an account's or event's discriminator)."""
        slots: dict[str, FieldSlot] = {}
        offset = start
        for f in self.type_def(struct_name)["fields"]:
            size = self.size_of(f["type"])
            slots[f["name"]] = FieldSlot(offset, size)
            offset += size
        return slots

    # --- borsh -----------------------------------------------------------
    def encode(self, idl_type: Any, value: Any) -> bytes:
        if isinstance(idl_type, str):
            if idl_type in _INTS:
                if isinstance(value, bool) or not isinstance(value, int):
                    raise IdlCodecError(f"{value!r} is not an integer for {idl_type}")
                try:
                    return struct.pack(_INTS[idl_type], value)
                except struct.error as exc:
                    raise IdlCodecError(f"{value!r} does not fit {idl_type}") from exc
            if idl_type == "bool":
                if not isinstance(value, bool):
                    raise IdlCodecError(f"{value!r} is not a bool")
                return b"\x01" if value else b"\x00"
            if idl_type == "pubkey":
                try:
                    return bytes(value if isinstance(value, Pubkey) else Pubkey.from_string(value))
                except (ValueError, TypeError) as exc:
                    raise IdlCodecError(f"{value!r} is not a public key") from exc
        if isinstance(idl_type, dict) and "array" in idl_type:
            _, length = idl_type["array"]
            data = bytes(value)
            if len(data) > length:
                raise IdlCodecError(f"{len(data)} bytes do not fit [u8; {length}]")
            return data.ljust(length, b"\x00")
        if isinstance(idl_type, dict) and "defined" in idl_type:
            name = idl_type["defined"]["name"]
            type_def = self.type_def(name)
            if type_def["kind"] == "enum":
                return struct.pack("<B", self._enum_tag(name, value))
            return self.encode_fields(type_def["fields"], value)
        raise IdlCodecError(f"unsupported IDL type {idl_type!r}")

    def _enum_tag(self, name: str, value: Any) -> int:
        variants = self.enum_variants(name)
        if isinstance(value, Enum):
            value = value.value
        if isinstance(value, int) and not isinstance(value, bool):
            if 0 <= value < len(variants):
                return value
        elif isinstance(value, str) and value in variants:
            return variants.index(value)
        raise IdlCodecError(f"{value!r} is not a variant of {name}")

    def encode_fields(self, fields: list[dict[str, Any]], values: dict[str, Any]) -> bytes:
        missing = [f["name"] for f in fields if f["name"] not in values]
        if missing:
            raise IdlCodecError(f"missing fields: {', '.join(missing)}")
        return b"".join(self.encode(f["type"], values[f["name"]]) for f in fields)

    def decode(self, idl_type: Any, data: bytes, offset: int) -> tuple[Any, int]:
        """Decodes one value at `offset`; returns (value, next offset).

        Enums decode to their variant name. Raises `IdlCodecError` for
        truncated data, a bool byte other than 0/1 and an unknown enum tag.
        """
        try:
            if isinstance(idl_type, str):
                if idl_type in _INTS:
                    fmt = _INTS[idl_type]
                    return struct.unpack_from(fmt, data, offset)[0], offset + struct.calcsize(fmt)
                if idl_type == "bool":
                    byte = data[offset]
                    if byte > 1:
                        raise IdlCodecError(f"bool byte {byte} at {offset} is neither 0 nor 1")
                    return byte == 1, offset + 1
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

    def decode_struct(
        self, name: str, data: bytes, offset: int = 8, *, typed: bool = False
    ) -> dict[str, Any]:
        """Decodes struct `name` from `offset` to the end of `data` exactly
        (bytes left over are an `IdlCodecError`, as in the program's codec).

        With `typed`, enum fields become `client_kit.enums` members and reason
        codes `Reason`s (what the account and event decoders return).
        """
        fields = self.type_def(name)["fields"]
        values, end = self.decode_fields(fields, bytes(data), offset)
        if end != len(data):
            raise IdlCodecError(f"{name}: {len(data) - end} unexpected trailing bytes")
        if typed:
            for f in fields:
                idl_type, key = f["type"], f["name"]
                if isinstance(idl_type, dict) and "defined" in idl_type:
                    enum_cls = IDL_ENUMS.get(idl_type["defined"]["name"])
                    if enum_cls is not None:
                        values[key] = enum_cls.from_name(values[key])
                elif key in REASON_FIELDS and idl_type == "u8":
                    values[key] = Reason(values[key])
        return values


def _find_disc(entries: list[dict[str, Any]], name: str) -> bytes:
    for entry in entries:
        if entry["name"] == name:
            return bytes(entry["discriminator"])
    raise IdlCodecError(f"{name!r} not in IDL")


@cache
def load_idl(path: str | None = None) -> Idl:
    """The IDL at `path`, at `$FEDSTAKE_IDL`, or the one shipped in the package."""
    explicit = path or os.environ.get("FEDSTAKE_IDL")
    if explicit:
        resolved = Path(explicit)
        if not resolved.is_file():
            raise IdlCodecError(f"IDL not found at {resolved}")
        return Idl(json.loads(resolved.read_text()))
    from client_kit.program import idl_text

    return Idl(json.loads(idl_text()))


def cid_to_field(cid: str) -> bytes:
    """A CID string as the program's zero-padded [u8; 64] field."""
    try:
        raw = cid.encode("ascii")
    except UnicodeEncodeError:
        raise IdlCodecError("CID must be ASCII") from None
    if not raw or len(raw) > 64 or b"\x00" in raw:
        raise IdlCodecError(f"CID must be 1..64 ASCII bytes without NUL, got {len(raw)}")
    return raw.ljust(64, b"\x00")


def field_to_cid(field: bytes) -> str:
    """The CID text in a [u8; 64] field (zero padding removed; invalid bytes as U+FFFD)."""
    return bytes(field).rstrip(b"\x00").decode("ascii", errors="replace")
