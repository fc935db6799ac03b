"""Content-addressed storage: CIDs computed like `ipfs add`, and the backends.

`open_store(spec)` turns one configuration string into a store:

* `local` — the directory store under `<home>/store` (default `~/.fedstake/store`);
* `local:<dir>`, or a path starting with `/`, `~` or `.` — the directory store there;
* `ipfs` — a kubo node at http://127.0.0.1:5001; `ipfs:<http url>` — one elsewhere;
* `pinata` — Pinata, credentials from `PINATA_API_KEY` / `PINATA_SECRET_API_KEY`.
"""

from __future__ import annotations

from pathlib import Path

from client_kit.storage.base import ContentStore, ProgressCallback, verify_content
from client_kit.storage.cid import Cid, compute_cid, compute_file_cid, is_cid, parse_cid
from client_kit.storage.errors import (
    ContentMismatch,
    ContentNotFound,
    ContentTooLarge,
    InvalidCid,
    StorageError,
    StoreConfigError,
    StoreUnavailable,
)
from client_kit.storage.local import DEFAULT_STORE_DIR, LocalStore

__all__ = [
    "Cid",
    "ContentMismatch",
    "ContentNotFound",
    "ContentStore",
    "ContentTooLarge",
    "InvalidCid",
    "LocalStore",
    "ProgressCallback",
    "StorageError",
    "StoreConfigError",
    "StoreUnavailable",
    "compute_cid",
    "compute_file_cid",
    "is_cid",
    "open_store",
    "parse_cid",
    "verify_content",
]


def open_store(spec: str = "local", *, home: str | Path | None = None) -> ContentStore:
    """The store a configuration string names (see the module docstring)."""
    spec = spec.strip()
    if spec == "local":
        root = Path(home).expanduser() / "store" if home is not None else DEFAULT_STORE_DIR
        return LocalStore(root)
    if spec.startswith("local:"):
        return LocalStore(spec.removeprefix("local:"))
    if spec.startswith(("/", "~", ".")):
        return LocalStore(spec)
    if spec == "ipfs" or spec.startswith("ipfs:"):
        from client_kit.storage.ipfs_http import DEFAULT_API_URL, IpfsHttpStore

        return IpfsHttpStore(spec.removeprefix("ipfs:") if spec != "ipfs" else DEFAULT_API_URL)
    if spec == "pinata":
        from client_kit.storage.pinata import PinataStore

        return PinataStore()
    raise StoreConfigError(
        f"unknown store {spec!r}: use local, local:<dir>, ipfs, ipfs:<url> or pinata"
    )
