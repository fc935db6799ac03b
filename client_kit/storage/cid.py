"""IPFS content identifiers, computed the way `ipfs add` computes them.

Pools record CIDs on chain and anyone must be able to check that the bytes a
store hands back are the bytes the CID names, with or without an IPFS node.
So the CID of a byte string is computed here, by hand, exactly as kubo's
`ipfs add --cid-version=1 --raw-leaves` does with its defaults:

* fixed-size chunks of 256 KiB (`--chunker=size-262144`);
* a file of at most one chunk is a single `raw` block (codec 0x55): its CID
  is `b` + base32(0x01 0x55 0x12 0x20 sha256(data));
* a larger file is a balanced UnixFS DAG (the `balanced` layout of boxo's
  importer): raw leaves in order, internal dag-pb nodes (codec 0x70) of at
  most 174 links, every leaf at the same depth, each level filled left to
  right before a new root is added above it.

An internal node is a dag-pb `PBNode` whose links come first (field 2) and
whose data (field 1) is a UnixFS `Data` message `{Type: File, filesize,
blocksizes...}`; each `PBLink` carries the child's CID (field 1), an empty
name (field 2, always written, as go-merkledag does) and `Tsize` (field 3:
the child's encoded size plus everything below it). The protobuf is written
by hand below (varints and length-delimited fields are all it needs).

CIDv0 (`Qm...`, base58btc of the bare multihash) with non-raw UnixFS leaves is
also supported, because the published go-ipfs vectors for the layout are v0.

Verified against go-ipfs/kubo results (see tests/client_kit_offline/test_cid.py).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from client_kit.errors import InvalidInput
from client_kit.storage.errors import InvalidCid

RAW = 0x55
DAG_PB = 0x70
SHA2_256 = 0x12
SHA2_256_LEN = 32

DEFAULT_CHUNK_SIZE = 262_144
DEFAULT_MAX_LINKS = 174

_UNIXFS_FILE = 2
_MAX_VARINT_BYTES = 9  # multiformats unsigned-varint: at most 63 bits
_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58_ALPHABET)}

ProgressCallback = Callable[[int, int], None]
BlockCallback = Callable[["Cid", bytes], None]


# --- varints, bases -----------------------------------------------------------------------------


def encode_varint(value: int) -> bytes:
    """Unsigned LEB128 varint (multiformats and protobuf use the same encoding)."""
    if value < 0:
        raise InvalidInput("varint must be non-negative")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_varint(data: bytes, pos: int = 0) -> tuple[int, int]:
    """Read a minimal unsigned varint at `pos`; returns (value, next position)."""
    value = 0
    for i in range(_MAX_VARINT_BYTES):
        if pos + i >= len(data):
            raise InvalidCid("truncated varint")
        byte = data[pos + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            if byte == 0 and i > 0:
                raise InvalidCid("non-minimal varint")
            return value, pos + i + 1
    raise InvalidCid("varint longer than 9 bytes")


def b58encode(data: bytes) -> str:
    """Bitcoin-alphabet base58 (CIDv0 text form)."""
    number = int.from_bytes(data, "big")
    chars = []
    while number:
        number, rem = divmod(number, 58)
        chars.append(_B58_ALPHABET[rem])
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + "".join(reversed(chars))


def b58decode(text: str) -> bytes:
    number = 0
    for char in text:
        if char not in _B58_INDEX:
            raise InvalidCid(f"invalid base58 character {char!r}")
        number = number * 58 + _B58_INDEX[char]
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * zeros + body


def _b32encode(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


def _b32decode(text: str) -> bytes:
    if text != text.lower() and text != text.upper():
        raise InvalidCid("mixed-case base32")
    padded = text.upper() + "=" * (-len(text) % 8)
    try:
        data = base64.b32decode(padded)
    except ValueError as exc:
        raise InvalidCid(f"invalid base32: {exc}") from None
    if _b32encode(data) != text.lower():
        raise InvalidCid("non-canonical base32")
    return data


# --- the CID value ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cid:
    """A CID this project can verify: sha2-256 over a `raw` or `dag-pb` block."""

    version: int
    codec: int
    digest: bytes

    def __post_init__(self) -> None:
        if self.version not in (0, 1):
            raise InvalidCid(f"unsupported CID version {self.version}")
        if self.codec not in (RAW, DAG_PB):
            raise InvalidCid(f"unsupported codec 0x{self.codec:x} (need raw or dag-pb)")
        if self.version == 0 and self.codec != DAG_PB:
            raise InvalidCid("CIDv0 is always dag-pb")
        if len(self.digest) != SHA2_256_LEN:
            raise InvalidCid(f"sha2-256 digest must be 32 bytes, got {len(self.digest)}")

    @property
    def multihash(self) -> bytes:
        return bytes([SHA2_256, SHA2_256_LEN]) + self.digest

    def to_bytes(self) -> bytes:
        """Binary CID, as it appears inside dag-pb links."""
        if self.version == 0:
            return self.multihash
        return encode_varint(1) + encode_varint(self.codec) + self.multihash

    def __str__(self) -> str:
        if self.version == 0:
            return b58encode(self.multihash)
        return "b" + _b32encode(self.to_bytes())

    @classmethod
    def from_bytes(cls, data: bytes) -> Cid:
        data = bytes(data)
        if len(data) == 34 and data[0] == SHA2_256 and data[1] == SHA2_256_LEN:
            return cls(0, DAG_PB, data[2:])
        version, pos = decode_varint(data)
        if version != 1:
            raise InvalidCid(f"unsupported CID version {version}")
        codec, pos = decode_varint(data, pos)
        hash_code, pos = decode_varint(data, pos)
        length, pos = decode_varint(data, pos)
        if hash_code != SHA2_256:
            raise InvalidCid(f"unsupported multihash 0x{hash_code:x} (need sha2-256)")
        if length != SHA2_256_LEN or len(data) - pos != length:
            raise InvalidCid("multihash length does not match its digest")
        return cls(1, codec, data[pos:])

    @classmethod
    def parse(cls, text: str) -> Cid:
        """Parse a CID string (`b...` base32, `B...`, `z...` base58btc, `f...` hex, or `Qm...`)."""
        if not isinstance(text, str) or not text:
            raise InvalidCid("empty CID")
        if len(text) > 256 or not text.isascii():
            raise InvalidCid("not a CID string")
        if len(text) == 46 and text.startswith("Qm"):
            return cls.from_bytes(b58decode(text))
        prefix, body = text[0], text[1:]
        if prefix in "bB":
            raw = _b32decode(body)
        elif prefix == "z":
            raw = b58decode(body)
        elif prefix in "fF":
            try:
                raw = bytes.fromhex(body)
            except ValueError:
                raise InvalidCid("invalid base16") from None
        else:
            raise InvalidCid(f"unsupported multibase prefix {prefix!r}")
        cid = cls.from_bytes(raw)
        if cid.version == 0:
            raise InvalidCid("CIDv0 must be written in plain base58btc")
        return cid


def parse_cid(text: str) -> Cid:
    """Parse and validate a CID string; raises `InvalidCid`."""
    return Cid.parse(text)


def is_cid(text: object) -> bool:
    """True when `text` is a CID string this project can verify."""
    try:
        Cid.parse(text)  # type: ignore[arg-type]
    except InvalidCid:
        return False
    return True


def raw_cid(data: bytes) -> Cid:
    """CIDv1 of a single `raw` block."""
    return Cid(1, RAW, hashlib.sha256(data).digest())


# --- protobuf (dag-pb, UnixFS) -------------------------------------------------------------------


def _pb_varint(field: int, value: int) -> bytes:
    return encode_varint(field << 3) + encode_varint(value)


def _pb_bytes(field: int, payload: bytes) -> bytes:
    return encode_varint(field << 3 | 2) + encode_varint(len(payload)) + payload


def unixfs_file_data(
    filesize: int, blocksizes: Iterable[int] = (), data: bytes | None = None
) -> bytes:
    """UnixFS `Data` message of a file node (fields in number order, blocksizes unpacked)."""
    out = _pb_varint(1, _UNIXFS_FILE)
    if data:
        out += _pb_bytes(2, data)
    out += _pb_varint(3, filesize)
    for size in blocksizes:
        out += _pb_varint(4, size)
    return out


@dataclass(frozen=True)
class _Link:
    cid: Cid
    tsize: int  # encoded size of the child and everything below it
    filesize: int  # file bytes under the child


def dag_pb_node(links: Iterable[_Link], data: bytes) -> bytes:
    """Encode a `PBNode`: links first (field 2), then data (field 1)."""
    out = b""
    for link in links:
        body = _pb_bytes(1, link.cid.to_bytes()) + _pb_bytes(2, b"") + _pb_varint(3, link.tsize)
        out += _pb_bytes(2, body)
    return out + _pb_bytes(1, data)


# --- the balanced importer -----------------------------------------------------------------------


class UnixfsFileBuilder:
    """Streaming `ipfs add` of one file: feed bytes with `update`, get the root from `finish`.

    Memory stays at one chunk plus at most `max_links` links per level.
    `on_block(cid, block_bytes)` sees every block (leaves and nodes) as it is made.
    """

    def __init__(
        self,
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        max_links: int = DEFAULT_MAX_LINKS,
        raw_leaves: bool = True,
        cid_version: int = 1,
        on_block: BlockCallback | None = None,
    ) -> None:
        if chunk_size < 1 or max_links < 2:
            raise InvalidInput("chunk_size must be >= 1 and max_links >= 2")
        if cid_version == 0 and raw_leaves:
            raise InvalidInput("raw leaves need CIDv1")
        if cid_version not in (0, 1):
            raise InvalidInput("cid_version must be 0 or 1")
        self.chunk_size = chunk_size
        self.max_links = max_links
        self.raw_leaves = raw_leaves
        self.cid_version = cid_version
        self._on_block = on_block
        self._buffer = bytearray()
        self._levels: list[list[_Link]] = []
        self._leaves = 0
        self._finished = False

    def update(self, data: bytes) -> None:
        if self._finished:
            raise RuntimeError("builder already finished")
        self._buffer += data
        full = len(self._buffer) // self.chunk_size * self.chunk_size
        view = memoryview(self._buffer)
        for start in range(0, full, self.chunk_size):
            self._add_leaf(bytes(view[start : start + self.chunk_size]))
        view.release()
        del self._buffer[:full]

    def finish(self) -> Cid:
        if self._finished:
            raise RuntimeError("builder already finished")
        self._finished = True
        if self._buffer or not self._leaves:
            self._add_leaf(bytes(self._buffer))
            self._buffer.clear()
        if self._leaves == 1:
            return self._levels[0][0].cid
        level = 0
        while True:
            node = self._pack(self._levels[level])
            self._levels[level] = []
            if level == len(self._levels) - 1:
                return node.cid
            self._push(level + 1, node)
            level += 1

    def _emit(self, cid: Cid, block: bytes) -> None:
        if self._on_block is not None:
            self._on_block(cid, block)

    def _add_leaf(self, chunk: bytes) -> None:
        if self.raw_leaves:
            cid = raw_cid(chunk)
            self._emit(cid, chunk)
            link = _Link(cid, len(chunk), len(chunk))
        else:
            block = dag_pb_node((), unixfs_file_data(len(chunk), data=chunk))
            cid = Cid(self.cid_version, DAG_PB, hashlib.sha256(block).digest())
            self._emit(cid, block)
            link = _Link(cid, len(block), len(chunk))
        self._leaves += 1
        self._push(0, link)

    def _push(self, level: int, link: _Link) -> None:
        """Append a link at `level`, first sealing that level into its parent when it is full."""
        if level == len(self._levels):
            self._levels.append([])
        if len(self._levels[level]) == self.max_links:
            sealed = self._pack(self._levels[level])
            self._levels[level] = []
            self._push(level + 1, sealed)
        self._levels[level].append(link)

    def _pack(self, links: list[_Link]) -> _Link:
        filesize = sum(link.filesize for link in links)
        data = unixfs_file_data(filesize, [link.filesize for link in links])
        block = dag_pb_node(links, data)
        cid = Cid(self.cid_version, DAG_PB, hashlib.sha256(block).digest())
        self._emit(cid, block)
        return _Link(cid, len(block) + sum(link.tsize for link in links), filesize)


def compute_cid(
    data: bytes,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    max_links: int = DEFAULT_MAX_LINKS,
    raw_leaves: bool = True,
    cid_version: int = 1,
    progress: ProgressCallback | None = None,
) -> str:
    """The CID `ipfs add` gives `data` (defaults: `--cid-version=1 --raw-leaves`, 256 KiB)."""
    builder = UnixfsFileBuilder(
        chunk_size=chunk_size, max_links=max_links, raw_leaves=raw_leaves, cid_version=cid_version
    )
    view = memoryview(data)
    step = max(chunk_size, 4 * 1024 * 1024 // chunk_size * chunk_size)
    for start in range(0, len(view), step):
        builder.update(view[start : start + step])
        if progress is not None:
            progress(min(start + step, len(view)), len(view))
    if progress is not None and not len(view):
        progress(0, 0)
    return str(builder.finish())


def compute_file_cid(path: str | Path, *, progress: ProgressCallback | None = None) -> str:
    """CID of a file's content, read in chunks (defaults as in `compute_cid`)."""
    path = Path(path)
    total = path.stat().st_size
    builder = UnixfsFileBuilder()
    done = 0
    with path.open("rb") as handle:
        while block := handle.read(16 * DEFAULT_CHUNK_SIZE):
            builder.update(block)
            done += len(block)
            if progress is not None:
                progress(done, total)
    return str(builder.finish())


def _layouts_for(cid: Cid) -> list[dict[str, int | bool]]:
    """Import settings that can produce a CID of this kind, most likely first."""
    if cid.version == 0:
        return [{"raw_leaves": False, "cid_version": 0}]
    if cid.codec == RAW:
        return [{"raw_leaves": True, "cid_version": 1}]
    return [{"raw_leaves": True, "cid_version": 1}, {"raw_leaves": False, "cid_version": 1}]


def content_matches(cid: str | Cid, data: bytes) -> tuple[bool, str]:
    """Whether `data` is the content `cid` names under the default chunking.

    Returns (matches, the CID computed with the most likely settings). Content
    added with a non-default chunker or DAG layout cannot be recognised here.
    """
    parsed = cid if isinstance(cid, Cid) else Cid.parse(cid)
    if parsed.codec == RAW:
        actual = raw_cid(data)
        return actual == parsed, str(actual)
    first = ""
    for settings in _layouts_for(parsed):
        computed = compute_cid(data, **settings)  # type: ignore[arg-type]
        first = first or computed
        if Cid.parse(computed) == parsed:
            return True, computed
    return False, first
