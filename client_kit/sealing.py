"""Encrypted updates: a participant seals its revealed update to the round's
aggregator public key, and only the holder of the round's secret key opens it.

The construction is libsodium's sealed box (`crypto_box_seal`, through PyNaCl's
`nacl.public.SealedBox`): an ephemeral X25519 key agreement with the
recipient's public key and XSalsa20-Poly1305 authenticated encryption. The
sender is anonymous and every seal uses a fresh ephemeral key, so two seals of
the same plaintext differ; a ciphertext that was tampered with, or sealed to
another key, does not open (`SealedUpdateUnreadable`).

Keys are 32 raw bytes (`ROUND_KEY_BYTES`); on disk and in JSON they are 64
lowercase hex characters. Nothing here is our own cryptography.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox

from client_kit.errors import FedstakeError, InvalidInput

ROUND_KEY_BYTES = 32
SEAL_OVERHEAD = 48  # ephemeral public key (32) + Poly1305 tag (16)
_HEX = set("0123456789abcdef")
ROUND_KEYS_FOLDER = "round-keys"  # the operator's key store, beside its journal


class InvalidRoundKey(InvalidInput):
    """A round key (public or secret) that is not 32 bytes / 64 lowercase hex
    characters, or a key file that cannot be read."""


class SealedUpdateUnreadable(FedstakeError):
    """Bytes that do not open with the round's secret key: not a sealed box,
    tampered with, or sealed to another key. For a revealed update this is the
    participant's objective fault (anyone with the round key reproduces it)."""


def parse_key_hex(text: str, what: str = "round key") -> bytes:
    """The 32 bytes of a key written as 64 lowercase hex characters; `InvalidRoundKey`."""
    if not isinstance(text, str) or len(text) != 2 * ROUND_KEY_BYTES or set(text) - _HEX:
        raise InvalidRoundKey(f"{what}: expected {2 * ROUND_KEY_BYTES} lowercase hex characters")
    return bytes.fromhex(text)


@dataclass(frozen=True)
class RoundKeypair:
    """One round's aggregator key pair: `public` (32 bytes, published through
    the task package or the previous round's record) and `secret` (32 bytes,
    kept by the operator; given to auditors for `verify-round`)."""

    public: bytes
    secret: bytes = field(repr=False)

    @classmethod
    def generate(cls) -> RoundKeypair:
        """A fresh key pair from the OS's randomness (libsodium)."""
        key = PrivateKey.generate()
        return cls(bytes(key.public_key), bytes(key))

    @classmethod
    def from_secret(cls, secret: bytes) -> RoundKeypair:
        """The pair of a 32-byte secret key; `InvalidRoundKey` otherwise."""
        if not isinstance(secret, bytes | bytearray) or len(secret) != ROUND_KEY_BYTES:
            raise InvalidRoundKey(f"a round secret key is {ROUND_KEY_BYTES} bytes")
        key = PrivateKey(bytes(secret))
        return cls(bytes(key.public_key), bytes(key))

    def save(self, path: Path) -> None:
        """Writes the secret key as hex to `path`, readable by its owner only (0600)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(self.secret.hex() + "\n")
        os.chmod(path, 0o600)


def load_round_key(path: Path) -> RoundKeypair:
    """The key pair whose secret key `path` holds (64 hex characters, as
    `RoundKeypair.save` writes it); `InvalidRoundKey` when the file is missing,
    unreadable or not a key."""
    try:
        text = Path(path).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidRoundKey(f"round key file {path}: {exc}") from None
    return RoundKeypair.from_secret(parse_key_hex(text, f"round key file {path}"))


def seal_update(data: bytes, public_key: bytes) -> bytes:
    """`data` sealed to `public_key` (len(data) + `SEAL_OVERHEAD` bytes); `InvalidRoundKey`."""
    if not isinstance(public_key, bytes | bytearray) or len(public_key) != ROUND_KEY_BYTES:
        raise InvalidRoundKey(f"a round public key is {ROUND_KEY_BYTES} bytes")
    return bytes(SealedBox(PublicKey(bytes(public_key))).encrypt(bytes(data)))


def open_update(sealed: bytes, key: RoundKeypair) -> bytes:
    """The plaintext of `sealed`; `SealedUpdateUnreadable` when it does not open with `key`."""
    try:
        return bytes(SealedBox(PrivateKey(key.secret)).decrypt(bytes(sealed)))
    except (CryptoError, ValueError, TypeError) as exc:
        raise SealedUpdateUnreadable(f"does not open with the round key: {exc}") from None


class RoundKeyMissing(FedstakeError):
    """The operator's key store holds no secret key for a round's public key."""


class RoundKeyStore:
    """The operator's round secret keys: one file per key in `folder`, named by
    the public key's hex (`<public>.key`, 0600, the secret key as hex), so a
    round's key is found from the public key the chain binds (task package or
    previous round record) without knowing the pool's address in advance."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def path(self, public: bytes) -> Path:
        return self.folder / f"{bytes(public).hex()}.key"

    def generate(self) -> RoundKeypair:
        """A fresh key pair, saved before it is returned (so it is never published unsaved)."""
        pair = RoundKeypair.generate()
        pair.save(self.path(pair.public))
        return pair

    def next_after(self, public: bytes) -> RoundKeypair:
        """The key pair of the round after the one sealed to `public`: generated
        and saved on the first call, the same pair on every later one (a round
        whose judging is retried names one next key and leaves no stray key
        files). The link is `<public>.next`, holding the next public key's hex,
        written (atomically) after the key file. Raises what `load` raises."""
        link = self.folder / f"{bytes(public).hex()}.next"
        if link.exists():
            try:
                text = link.read_text(encoding="ascii").strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise InvalidRoundKey(f"next-key link {link}: {exc}") from None
            return self.load(parse_key_hex(text, f"next-key link {link}"))
        pair = self.generate()
        partial = link.with_suffix(".next.partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # the folder is 0600
        with os.fdopen(fd, "w") as out:
            out.write(pair.public.hex() + "\n")
        os.replace(partial, link)
        return pair

    def load(self, public: bytes) -> RoundKeypair:
        """The key pair of `public`; `RoundKeyMissing` when no file holds it,
        `InvalidRoundKey` when the file is not the key of `public`."""
        path = self.path(public)
        if not path.exists():
            raise RoundKeyMissing(
                f"no secret key for round key {bytes(public).hex()} in {self.folder}"
            )
        pair = load_round_key(path)
        if pair.public != bytes(public):
            raise InvalidRoundKey(f"{path} holds the key of another public key")
        return pair
