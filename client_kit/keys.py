"""Keypair files and payout secrets: the participant's two pieces of private state.

Keypairs are read from Solana CLI files (a JSON array of 64 integers: the
32-byte secret seed then the 32-byte public key), so `solana-keygen` output
works unchanged. Error messages name the file and what is wrong with it,
never its content: a traceback pasted into an issue must not leak a key.

A participant joins a pool with `payout_commitment = sha256(payout_wallet ‖
salt)` instead of the wallet that will be paid. The salt is the only thing
that later proves the claim, so it is kept in a file only its owner can read
(mode 0600 inside a 0700 folder) and is never silently replaced.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client_kit.errors import FedstakeError, InvalidInput

DEFAULT_KEYPAIR_PATH = Path("~/.config/solana/id.json")
SALT_LEN = 32
_SECRET_FILE_VERSION = 1


class KeypairError(FedstakeError):
    """A keypair file that cannot be used."""


class KeypairNotFound(KeypairError, FileNotFoundError):
    """No file at the keypair path."""


class KeypairUnreadable(KeypairError):
    """The path exists but cannot be read as a file (a folder, no permission, I/O error)."""


class KeypairInvalid(KeypairError, ValueError):
    """The file was read but is not a valid 64-byte Solana keypair."""


class KeypairExists(KeypairError, FileExistsError):
    """`write_keypair` would replace an existing file."""


class PayoutSecretError(FedstakeError):
    """A payout secret file that cannot be written or used."""


class PayoutSecretNotFound(PayoutSecretError, FileNotFoundError):
    """No payout secret saved for this pool and wallet."""


class PayoutSecretInvalid(PayoutSecretError, ValueError):
    """The file is not a payout secret, or its commitment does not match its content."""


class PayoutSecretExists(PayoutSecretError, FileExistsError):
    """A different secret is already saved for this pool and wallet (it may be committed)."""


# --- keypairs -------------------------------------------------------------------------------------


def load_keypair(path: str | Path | None = None) -> Keypair:
    """Read a Solana CLI keypair file (default `~/.config/solana/id.json`)."""
    path = Path(path if path is not None else DEFAULT_KEYPAIR_PATH).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KeypairNotFound(f"no keypair file at {path}") from None
    except IsADirectoryError:
        raise KeypairUnreadable(f"{path} is a directory, not a keypair file") from None
    except PermissionError:
        raise KeypairUnreadable(f"no permission to read {path}") from None
    except UnicodeDecodeError:
        raise KeypairInvalid(f"{path} is not a text file") from None
    except OSError as exc:
        raise KeypairUnreadable(f"cannot read {path}: {exc.strerror}") from None
    return _keypair_from_text(text, path)


def _keypair_from_text(text: str, path: Path) -> Keypair:
    try:
        values = json.loads(text)
    except ValueError:
        raise KeypairInvalid(f"{path} is not JSON (expected an array of 64 integers)") from None
    if not isinstance(values, list) or len(values) != 64:
        raise KeypairInvalid(f"{path} must hold a JSON array of exactly 64 integers")
    if not all(type(v) is int and 0 <= v <= 255 for v in values):
        raise KeypairInvalid(f"{path} must hold integers between 0 and 255")
    raw = bytes(values)
    try:
        keypair = Keypair.from_seed(raw[:32])
    except ValueError:
        raise KeypairInvalid(f"{path} holds an unusable secret key") from None
    if bytes(keypair.pubkey()) != raw[32:]:
        raise KeypairInvalid(f"{path}: the public key does not belong to the secret key")
    return keypair


def write_keypair(path: str | Path, keypair: Keypair, *, overwrite: bool = False) -> Path:
    """Write `keypair` in Solana CLI format with mode 0600; refuses to replace a file."""
    path = Path(path).expanduser()
    if path.exists() and not overwrite:
        raise KeypairExists(f"{path} already exists")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_private_file(path, json.dumps(list(bytes(keypair))))
    except OSError as exc:
        raise KeypairError(f"cannot write {path}: {exc.strerror}") from None
    return path


def write_private_file(path: Path, content: str | bytes) -> None:
    """Write `path` atomically with mode 0600 from the start (never
    world-readable, even briefly): a temporary file beside it, fsynced, then
    renamed over it. Text is written as UTF-8. Raises `OSError`."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)  # in case the umask or the file system widened it
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# --- payout secrets -------------------------------------------------------------------------------


def generate_salt() -> bytes:
    """32 random bytes from the OS CSPRNG."""
    return secrets.token_bytes(SALT_LEN)


def payout_commitment(payout_wallet: Pubkey, salt: bytes) -> bytes:
    """sha256(payout_wallet ‖ salt): exactly what `claim_reward` checks on chain."""
    if len(salt) != SALT_LEN:
        raise InvalidInput(f"salt must be {SALT_LEN} bytes")
    return hashlib.sha256(bytes(payout_wallet) + bytes(salt)).digest()


@dataclass(frozen=True)
class PayoutSecret:
    """What a participant needs to claim: the payout wallet and the salt behind the commitment."""

    pool: Pubkey
    wallet: Pubkey
    payout_wallet: Pubkey
    salt: bytes

    @property
    def commitment(self) -> bytes:
        return payout_commitment(self.payout_wallet, self.salt)


def payout_secret_path(directory: str | Path, pool: Pubkey | str, wallet: Pubkey | str) -> Path:
    """One file per (pool, participant wallet)."""
    return Path(directory).expanduser() / f"payout-{pool}-{wallet}.json"


def save_payout_secret(
    directory: str | Path,
    pool: Pubkey,
    wallet: Pubkey,
    payout_wallet: Pubkey,
    salt: bytes,
    *,
    overwrite: bool = False,
) -> Path:
    """Write the secret (mode 0600, folder 0700). Saving the same secret again is a no-op.

    A different secret for the same pool and wallet is refused with
    `PayoutSecretExists` unless `overwrite`: if the old one was committed on
    chain, losing it would make the rewards unclaimable.
    """
    directory = Path(directory).expanduser()
    secret = PayoutSecret(pool, wallet, payout_wallet, bytes(salt))
    path = payout_secret_path(directory, pool, wallet)
    if path.exists() and not overwrite:
        try:
            existing = load_payout_secret(directory, pool, wallet)
        except PayoutSecretInvalid:
            existing = None
        if existing == secret:
            return path
        raise PayoutSecretExists(f"a different payout secret is saved at {path}")
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(directory, 0o700)
        body = {
            "version": _SECRET_FILE_VERSION,
            "pool": str(pool),
            "wallet": str(wallet),
            "payout_wallet": str(payout_wallet),
            "salt": secret.salt.hex(),
            "commitment": secret.commitment.hex(),
        }
        write_private_file(path, json.dumps(body, indent=2, sort_keys=True) + "\n")
    except OSError as exc:
        raise PayoutSecretError(f"cannot write {path}: {exc.strerror}") from None
    return path


def load_payout_secret(
    directory: str | Path, pool: Pubkey | str, wallet: Pubkey | str
) -> PayoutSecret:
    """Read and check a saved payout secret."""
    path = payout_secret_path(directory, pool, wallet)
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PayoutSecretNotFound(f"no payout secret at {path}") from None
    except (OSError, ValueError):
        raise PayoutSecretInvalid(f"{path} is not a readable payout secret file") from None
    if not isinstance(body, dict) or body.get("version") != _SECRET_FILE_VERSION:
        raise PayoutSecretInvalid(f"{path} is not a version {_SECRET_FILE_VERSION} payout secret")
    try:
        secret = PayoutSecret(
            pool=Pubkey.from_string(body["pool"]),
            wallet=Pubkey.from_string(body["wallet"]),
            payout_wallet=Pubkey.from_string(body["payout_wallet"]),
            salt=bytes.fromhex(body["salt"]),
        )
        recorded = bytes.fromhex(body["commitment"])
    except (KeyError, TypeError, ValueError):
        raise PayoutSecretInvalid(f"{path} is missing fields or has malformed ones") from None
    if (str(secret.pool), str(secret.wallet)) != (str(pool), str(wallet)):
        raise PayoutSecretInvalid(f"{path} belongs to another pool or wallet")
    if len(secret.salt) != SALT_LEN or secret.commitment != recorded:
        raise PayoutSecretInvalid(f"{path}: salt and commitment do not match")
    return secret
