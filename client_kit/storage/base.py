"""The interface every content store implements, and the check every read passes.

Methods are synchronous on purpose: the local store is file I/O and the
remote ones are a single HTTP exchange each, so one blocking implementation
is simpler to get right than two. Async callers (aggregator, API) wrap calls
in `asyncio.to_thread(store.get, cid)`; a store object holds no per-call
state, so concurrent calls from several threads are fine.

A store never trusts its backend: `get` recomputes the CID of what it read
and raises `ContentMismatch` rather than hand back other bytes.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable

from client_kit.storage.cid import Cid, content_matches, parse_cid
from client_kit.storage.errors import (
    ContentMismatch,
    ContentNotFound,
    ContentTooLarge,
    InvalidCid,
    StorageError,
    StoreConfigError,
    StoreUnavailable,
)

ProgressCallback = Callable[[int, int], None]
"""`progress(bytes_done, bytes_total)`; total is -1 while unknown."""

__all__ = [
    "ContentMismatch",
    "ContentNotFound",
    "ContentStore",
    "ContentTooLarge",
    "InvalidCid",
    "ProgressCallback",
    "StorageError",
    "StoreConfigError",
    "StoreUnavailable",
    "same_cid",
    "verify_content",
]


def verify_content(cid: str | Cid, data: bytes, where: str = "") -> None:
    """Raise `ContentMismatch` unless `data` is the content `cid` names."""
    matches, actual = content_matches(cid, data)
    if not matches:
        raise ContentMismatch(str(cid), actual, where)


def same_cid(a: str, b: str) -> bool:
    """Whether two CID strings name the same block (nodes may answer in another multibase)."""
    try:
        return parse_cid(a) == parse_cid(b)
    except InvalidCid:
        return False


class ContentStore(abc.ABC):
    """Put bytes, get them back by CID; CIDs are the ones `ipfs add --cid-version=1` gives."""

    #: short backend name for messages ("local", "ipfs", "pinata")
    name: str = "store"

    @abc.abstractmethod
    def put(self, data: bytes, *, progress: ProgressCallback | None = None) -> str:
        """Store `data`; return its CID (the same for equal bytes, on every backend)."""

    @abc.abstractmethod
    def get(
        self,
        cid: str,
        *,
        progress: ProgressCallback | None = None,
        max_bytes: int | None = None,
    ) -> bytes:
        """The verified bytes for `cid`.

        Raises `InvalidCid`, `ContentNotFound`, `ContentMismatch`,
        `ContentTooLarge` (above `max_bytes`) or `StoreUnavailable`.
        """

    @abc.abstractmethod
    def has(self, cid: str) -> bool:
        """Whether the store can serve `cid` without fetching it from elsewhere."""

    @classmethod
    def _collect(
        cls,
        cid: str,
        blocks: Iterable[bytes],
        total: int,
        *,
        max_bytes: int | None,
        progress: ProgressCallback | None,
        where: str,
    ) -> bytes:
        """Reads `blocks` (total -1 if unknown) within `max_bytes`, reports
        progress, and returns the bytes only if they match `cid`."""
        if total >= 0:
            cls._check_size(cid, total, max_bytes)
        chunks: list[bytes] = []
        done = 0
        for block in blocks:
            chunks.append(block)
            done += len(block)
            cls._check_size(cid, done, max_bytes)
            if progress is not None:
                progress(done, total)
        data = b"".join(chunks)
        verify_content(cid, data, where=where)
        return data

    @staticmethod
    def _parse(cid: str) -> Cid:
        return parse_cid(cid)

    @staticmethod
    def _check_size(cid: str, size: int, max_bytes: int | None) -> None:
        if max_bytes is not None and size > max_bytes:
            raise ContentTooLarge(f"{cid}: more than {max_bytes} bytes")
