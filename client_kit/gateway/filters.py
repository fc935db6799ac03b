"""Server-side filters for `ChainGateway.program_accounts`, as the RPC defines them.

`getProgramAccounts` keeps an account only if every filter matches: `Memcmp`
compares bytes at an offset of the account data, `DataSize` its exact length.
`matches` is the same rule in process, so the embedded backend returns exactly
what an RPC node would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Memcmp:
    """Account data at byte `offset` starts with `data` (RPC `memcmp`)."""

    offset: int
    data: bytes


@dataclass(frozen=True)
class DataSize:
    """Account data is exactly `size` bytes long (RPC `dataSize`)."""

    size: int


AccountFilter = Memcmp | DataSize


def matches(data: bytes, filters: Sequence[AccountFilter]) -> bool:
    """Whether account `data` passes every filter."""
    for f in filters:
        if isinstance(f, DataSize):
            if len(data) != f.size:
                return False
        elif data[f.offset : f.offset + len(f.data)] != f.data or f.offset + len(f.data) > len(
            data
        ):
            return False
    return True
