"""Store backed by Pinata's pinning service (through the `pinatapy-vourhey` package).

Uploads go through Pinata's API with `cidVersion: 1`; the CID Pinata reports
must equal the one computed locally, otherwise the upload is refused as a
`ContentMismatch` (a CID on chain that nobody can recompute is worthless).
Reads go through an IPFS HTTP gateway (Pinata's by default) and are
re-hashed like every other read.

`pinatapy` is imported only when a Pinata store is used, so the package is
needed only by those who choose this backend. Credentials come from the
arguments or from `PINATA_API_KEY` / `PINATA_SECRET_API_KEY`; the API and
gateway addresses from the arguments, `PINATA_API_URL` / `PINATA_GATEWAY`, or
Pinata's public ones.

Tested against a local server that implements the part of Pinata's API this
backend uses (`tests/storage/pinata_server.py`, backed by a real kubo node);
it has not been run against the hosted service.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Any

import httpx

from client_kit.storage.base import ContentStore, ProgressCallback, same_cid
from client_kit.storage.cid import compute_cid
from client_kit.storage.errors import (
    ContentMismatch,
    ContentNotFound,
    StoreConfigError,
    StoreUnavailable,
)

DEFAULT_API_URL = "https://api.pinata.cloud"
DEFAULT_GATEWAY = "https://gateway.pinata.cloud"
INSTALL_HINT = (
    "the Pinata backend needs the `pinatapy-vourhey` package: pip install pinatapy-vourhey"
)


def _load_pinatapy() -> Any:
    try:
        import pinatapy  # optional dependency, imported on use
    except ImportError:
        raise StoreConfigError(INSTALL_HINT) from None
    return pinatapy


class PinataStore(ContentStore):
    """Content pinned on Pinata, read back through an IPFS gateway."""

    name = "pinata"

    def __init__(
        self,
        api_key: str | None = None,
        secret_key: str | None = None,
        *,
        api_url: str | None = None,
        gateway: str | None = None,
        timeout: float = 120.0,
    ) -> None:
        self.api_key = api_key or os.environ.get("PINATA_API_KEY", "")
        self.secret_key = secret_key or os.environ.get("PINATA_SECRET_API_KEY", "")
        if not self.api_key or not self.secret_key:
            raise StoreConfigError(
                "Pinata needs an API key and secret (PINATA_API_KEY, PINATA_SECRET_API_KEY)"
            )
        self.api_url = (api_url or os.environ.get("PINATA_API_URL") or DEFAULT_API_URL).rstrip("/")
        self.gateway = (gateway or os.environ.get("PINATA_GATEWAY") or DEFAULT_GATEWAY).rstrip("/")
        self.timeout = timeout
        self._session: Any = None

    def _client(self) -> Any:
        pinatapy = _load_pinatapy()
        # pinatapy reads its endpoint from a module constant at call time, so it
        # is set before every use (one endpoint per process at a time).
        pinatapy.API_ENDPOINT = f"{self.api_url}/"
        if self._session is None:
            self._session = pinatapy.PinataPy(self.api_key, self.secret_key)
        return self._session

    @staticmethod
    def _refused(response: dict[str, Any], action: str) -> StoreUnavailable:
        status = response.get("status", "?")
        reason = response.get("reason") or response.get("error") or "no reason given"
        return StoreUnavailable(f"Pinata {action} failed: HTTP {status} {reason}")

    def put(self, data: bytes, *, progress: ProgressCallback | None = None) -> str:
        data = bytes(data)
        expected = compute_cid(data)
        client = self._client()
        if progress is not None:
            progress(0, len(data))
        fd, path = tempfile.mkstemp(prefix="fedstake-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            options = {"pinataOptions": {"cidVersion": 1}, "pinataMetadata": {"name": expected}}
            try:
                response = client.pin_file_to_ipfs(path, save_absolute_paths=False, options=options)
            except Exception as exc:  # requests' errors; pinatapy exposes no types of its own
                raise StoreUnavailable(f"Pinata unreachable: {exc}") from exc
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)
        returned = response.get("IpfsHash") if isinstance(response, dict) else None
        if not returned:
            raise self._refused(response if isinstance(response, dict) else {}, "pin")
        if not same_cid(str(returned), expected):
            raise ContentMismatch(expected, str(returned), "Pinata imported with other settings")
        if progress is not None:
            progress(len(data), len(data))
        return expected

    def get(
        self,
        cid: str,
        *,
        progress: ProgressCallback | None = None,
        max_bytes: int | None = None,
    ) -> bytes:
        self._parse(cid)
        url = f"{self.gateway}/ipfs/{cid}"
        try:
            with (
                httpx.Client(timeout=self.timeout, follow_redirects=True) as client,
                client.stream("GET", url) as response,
            ):
                if response.status_code in (404, 410):
                    raise ContentNotFound(cid, self.gateway)
                if response.status_code != 200:
                    raise StoreUnavailable(f"gateway {self.gateway}: HTTP {response.status_code}")
                header = response.headers.get("Content-Length", "")
                return self._collect(
                    cid,
                    response.iter_bytes(),
                    int(header) if header.isdigit() else -1,
                    max_bytes=max_bytes,
                    progress=progress,
                    where=self.gateway,
                )
        except httpx.HTTPError as exc:
            raise StoreUnavailable(f"gateway {self.gateway} unreachable: {exc}") from exc

    def has(self, cid: str) -> bool:
        self._parse(cid)
        try:
            response = self._client().pin_list({"hashContains": cid, "status": "pinned"})
        except Exception as exc:  # requests' errors
            raise StoreUnavailable(f"Pinata unreachable: {exc}") from exc
        if not isinstance(response, dict) or "rows" not in response:
            raise self._refused(response if isinstance(response, dict) else {}, "pin list")
        return any(row.get("ipfs_pin_hash") == cid for row in response["rows"])
