"""Store backed by a kubo (go-ipfs) node through its HTTP RPC API.

`put` asks the node for exactly the import settings `cid.py` reproduces
(`cid-version=1`, `raw-leaves=true`, `chunker=size-262144`) and refuses a
node that answers with another CID: the CID recorded on chain must be
checkable without that node. `get` reads with `offline=true`, so a CID the
node does not hold is reported at once instead of being searched for on the
public network, and re-hashes what it read.

The RPC API is an admin interface: point this at a node on loopback or behind
authentication, never at a public address.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import httpx

from client_kit.storage.base import ContentStore, ProgressCallback, same_cid
from client_kit.storage.cid import DEFAULT_CHUNK_SIZE, compute_cid
from client_kit.storage.errors import (
    ContentMismatch,
    ContentNotFound,
    StoreConfigError,
    StoreUnavailable,
)

DEFAULT_API_URL = "http://127.0.0.1:5001"
_ADD_PARAMS = {
    "cid-version": "1",
    "raw-leaves": "true",
    "chunker": f"size-{DEFAULT_CHUNK_SIZE}",
    "hash": "sha2-256",
    "pin": "true",
    "progress": "true",
}
_NOT_FOUND_MARKERS = ("not found", "could not find", "no link named")


def _error_message(response: httpx.Response) -> str:
    """kubo answers errors as JSON `{"Message": ..., "Code": ..., "Type": "error"}`."""
    try:
        body = response.read()
        return str(json.loads(body).get("Message", "")) or body.decode(errors="replace")[:200]
    except (ValueError, AttributeError):
        return f"HTTP {response.status_code}"


class IpfsHttpStore(ContentStore):
    """Content on a kubo node reached at `api_url` (default http://127.0.0.1:5001)."""

    name = "ipfs"

    def __init__(
        self,
        api_url: str = DEFAULT_API_URL,
        *,
        timeout: float = 60.0,
    ) -> None:
        parts = urlsplit(api_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise StoreConfigError(f"IPFS API URL must be http(s)://host:port, got {api_url!r}")
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout

    def _client(self) -> httpx.Client:
        return httpx.Client(base_url=f"{self.api_url}/api/v0/", timeout=self.timeout)

    def _unavailable(self, exc: Exception) -> StoreUnavailable:
        return StoreUnavailable(f"IPFS node at {self.api_url} unreachable: {exc}")

    def put(self, data: bytes, *, progress: ProgressCallback | None = None) -> str:
        data = bytes(data)
        expected = compute_cid(data)
        total = len(data)
        returned = ""
        try:
            with (
                self._client() as client,
                client.stream(
                    "POST",
                    "add",
                    params=_ADD_PARAMS,
                    files={"file": ("blob", data, "application/octet-stream")},
                ) as response,
            ):
                if response.status_code != 200:
                    raise StoreUnavailable(f"IPFS add failed: {_error_message(response)}")
                for line in response.iter_lines():
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    if "Hash" in event:
                        returned = str(event["Hash"])
                    elif "Bytes" in event and progress is not None:
                        progress(int(event["Bytes"]), total)
        except httpx.HTTPError as exc:
            raise self._unavailable(exc) from exc
        except ValueError as exc:
            raise StoreUnavailable(f"IPFS add answered something that is not JSON: {exc}") from exc
        if not returned:
            raise StoreUnavailable("IPFS add returned no CID")
        if not same_cid(returned, expected):
            where = f"node at {self.api_url} imported with other settings"
            raise ContentMismatch(expected, returned, where)
        if progress is not None:
            progress(total, total)
        return expected

    def get(
        self,
        cid: str,
        *,
        progress: ProgressCallback | None = None,
        max_bytes: int | None = None,
    ) -> bytes:
        self._parse(cid)
        try:
            with (
                self._client() as client,
                client.stream("POST", "cat", params={"arg": cid, "offline": "true"}) as response,
            ):
                if response.status_code != 200:
                    message = _error_message(response)
                    if any(marker in message.lower() for marker in _NOT_FOUND_MARKERS):
                        raise ContentNotFound(cid, f"IPFS node at {self.api_url}")
                    raise StoreUnavailable(f"IPFS cat failed: {message}")
                header = response.headers.get("X-Content-Length", "")
                return self._collect(
                    cid,
                    response.iter_bytes(),
                    int(header) if header.isdigit() else -1,
                    max_bytes=max_bytes,
                    progress=progress,
                    where=f"IPFS node at {self.api_url}",
                )
        except httpx.HTTPError as exc:
            raise self._unavailable(exc) from exc

    def has(self, cid: str) -> bool:
        self._parse(cid)
        try:
            with self._client() as client:
                response = client.post("block/stat", params={"arg": cid, "offline": "true"})
        except httpx.HTTPError as exc:
            raise self._unavailable(exc) from exc
        if response.status_code == 200:
            return True
        message = _error_message(response)
        if any(marker in message.lower() for marker in _NOT_FOUND_MARKERS):
            return False
        raise StoreUnavailable(f"IPFS block/stat failed: {message}")
