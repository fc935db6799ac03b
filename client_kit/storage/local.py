"""A content-addressed directory: the default store, needing no IPFS node.

One file per CID, named by the CID. Writes go to a temporary file in the same
directory, are flushed to disk and then renamed over the final name, so a
crash never leaves a half-written object under a valid CID. Reads re-hash the
file, so a file edited or corrupted on disk is reported, never returned.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from client_kit.storage.base import ContentStore, ProgressCallback
from client_kit.storage.cid import UnixfsFileBuilder
from client_kit.storage.errors import ContentNotFound, StorageError

DEFAULT_STORE_DIR = Path("~/.fedstake/store")
_IO_BLOCK = 1024 * 1024


class LocalStore(ContentStore):
    """Objects under `root` (default `~/.fedstake/store`), one file per CID."""

    name = "local"

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root if root is not None else DEFAULT_STORE_DIR).expanduser()

    def path_for(self, cid: str) -> Path:
        """Where the object for `cid` lives (the CID is validated first)."""
        return self.root / str(self._parse(cid))

    def put(self, data: bytes, *, progress: ProgressCallback | None = None) -> str:
        data = bytes(data)
        total = len(data)
        builder = UnixfsFileBuilder()
        view = memoryview(data)
        for start in range(0, total, _IO_BLOCK):
            builder.update(view[start : start + _IO_BLOCK])
        cid = str(builder.finish())
        target = self.root / cid
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=self.root)
        except OSError as exc:
            raise StorageError(f"cannot write to {self.root}: {exc.strerror}") from exc
        try:
            with os.fdopen(fd, "wb") as handle:
                for start in range(0, total, _IO_BLOCK):
                    handle.write(view[start : start + _IO_BLOCK])
                    if progress is not None:
                        progress(min(start + _IO_BLOCK, total), total)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp_name, target)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise StorageError(f"cannot write {target}: {exc.strerror}") from exc
        if progress is not None and total == 0:
            progress(0, 0)
        return cid

    def get(
        self,
        cid: str,
        *,
        progress: ProgressCallback | None = None,
        max_bytes: int | None = None,
    ) -> bytes:
        path = self.path_for(cid)
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            raise ContentNotFound(cid, str(self.root)) from None
        except OSError as exc:
            raise StorageError(f"cannot read {path}: {exc.strerror}") from exc
        with handle:
            return self._collect(
                cid,
                iter(lambda: handle.read(_IO_BLOCK), b""),
                os.fstat(handle.fileno()).st_size,
                max_bytes=max_bytes,
                progress=progress,
                where=str(path),
            )

    def has(self, cid: str) -> bool:
        return self.path_for(cid).is_file()
