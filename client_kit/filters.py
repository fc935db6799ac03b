"""Account filters in solana-py's shape, built from the IDL, checked locally too.

A filter list is what `AsyncClient.get_program_accounts(filters=...)` and
`SolanaWsClient.program_subscribe(filters=...)` take: `Sequence[int | MemcmpOpts]`,
where an `int` is a `dataSize` filter and `MemcmpOpts(offset, bytes)` compares
base58-encoded bytes at a byte offset; an account matches when every entry
does (the JSON-RPC `getProgramAccounts` rule). `matches` applies the same rule
in process, so the embedded chain and the watcher agree with an RPC node.

Offsets come from the IDL (the 8-byte Anchor discriminator, then the borsh
fields in order), never from hand-counted constants.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import base58
from solana.rpc.models import MemcmpOpts
from solders.pubkey import Pubkey

from client_kit.idl import Idl, load_idl

Filters = Sequence[int | MemcmpOpts]
DISCRIMINATOR_LEN = 8
_SIZES = {"u8": 1, "bool": 1, "u16": 2, "u32": 4, "i32": 4, "u64": 8, "i64": 8, "pubkey": 32}


def memcmp(offset: int, data: bytes) -> MemcmpOpts:
    """A `memcmp` filter: `data` at byte `offset` of the account data."""
    return MemcmpOpts(offset=offset, bytes=base58.b58encode(bytes(data)).decode())


def matches(data: bytes, filters: Filters | None) -> bool:
    """True when `data` passes every filter (None or empty: everything passes).

    Raises ValueError for a memcmp whose bytes are not valid base58.
    """
    for entry in filters or ():
        if isinstance(entry, int):
            if len(data) != entry:
                return False
            continue
        wanted = base58.b58decode(entry.bytes)
        if bytes(data[entry.offset : entry.offset + len(wanted)]) != wanted:
            return False
    return True


def field_offset(type_name: str, field: str, idl: Idl | None = None) -> int:
    """Byte offset of `field` in account `type_name`'s data, discriminator included.

    Raises KeyError when the type has no such field and ValueError when a
    field before it has no fixed size.
    """
    idl = idl or load_idl()
    offset = DISCRIMINATOR_LEN
    for entry in idl.type_def(type_name)["fields"]:
        if entry["name"] == field:
            return offset
        offset += _fixed_size(idl, entry["type"])
    raise KeyError(f"{type_name} has no field {field!r}")


def _fixed_size(idl: Idl, idl_type: Any) -> int:
    if isinstance(idl_type, str) and idl_type in _SIZES:
        return _SIZES[idl_type]
    if isinstance(idl_type, dict) and "array" in idl_type:
        inner, length = idl_type["array"]
        return _fixed_size(idl, inner) * int(length)
    if isinstance(idl_type, dict) and "defined" in idl_type:
        type_def = idl.type_def(idl_type["defined"]["name"])
        if type_def["kind"] == "enum":
            return 1  # unit variants only: one borsh tag byte
        return sum(_fixed_size(idl, f["type"]) for f in type_def["fields"])
    raise ValueError(f"IDL type {idl_type!r} has no fixed size")


def pool_filters(
    pool: Pubkey, organization: Pubkey, pool_id: int, idl: Idl | None = None
) -> list[list[int | MemcmpOpts]]:
    """Filter lists that together select one pool's accounts (OR of the lists).

    * the `Pool` account itself: its discriminator, `organization` and
      `pool_id` (u64 LE), the seeds of its address;
    * every account type with a `pool` field: `memcmp(offset of pool, pool)`,
      one list per distinct offset (today Participant, Submission and Round
      share offset 8, so one list covers them).

    The vault (`["vault", pool]`) holds no data and matches none of them.
    """
    idl = idl or load_idl()
    own = [
        memcmp(0, idl.account_discriminator("Pool")),
        memcmp(field_offset("Pool", "organization", idl), bytes(organization)),
        memcmp(field_offset("Pool", "pool_id", idl), pool_id.to_bytes(8, "little")),
    ]
    offsets = set()
    for account in idl.raw["accounts"]:
        try:
            offsets.add(field_offset(account["name"], "pool", idl))
        except KeyError:
            continue
    return [own, *([memcmp(offset, bytes(pool))] for offset in sorted(offsets))]


def matches_any(data: bytes, filter_lists: Sequence[Filters]) -> bool:
    """True when `data` passes at least one of the filter lists."""
    return any(matches(data, filters) for filters in filter_lists)
