"""Named failures of content-addressed storage.

Every backend raises these and nothing else for storage problems, so callers
(CLI, aggregator) can tell "the content is gone" from "the content is wrong"
from "the service is down" without knowing which backend they talk to.
"""

from __future__ import annotations

from client_kit.errors import FedstakeError


class StorageError(FedstakeError):
    """Any failure storing or fetching content."""


class InvalidCid(StorageError, ValueError):
    """A string or byte string that is not a CID this project understands."""


class ContentNotFound(StorageError, LookupError):
    """The store holds no content for this CID."""

    def __init__(self, cid: str, where: str = "") -> None:
        self.cid = cid
        super().__init__(f"no content for {cid}" + (f" in {where}" if where else ""))


class ContentMismatch(StorageError):
    """Bytes that do not hash to the CID they were stored or fetched under."""

    def __init__(self, expected: str, actual: str, where: str = "") -> None:
        self.expected = expected
        self.actual = actual
        suffix = f" ({where})" if where else ""
        super().__init__(f"content for {expected} hashes to {actual}{suffix}")


class ContentTooLarge(StorageError):
    """Content above the caller's size limit (protects against huge downloads)."""


class StoreUnavailable(StorageError):
    """The backend (IPFS node, Pinata) could not be reached or refused the request."""


class StoreConfigError(StorageError):
    """The backend is not usable as configured (missing package, credentials, bad spec)."""
