"""Content stores: local round trips, tamper detection, and the named failures of each backend."""

from __future__ import annotations

import hashlib
import socket
import sys
from pathlib import Path

import pytest

from client_kit.storage import (
    ContentMismatch,
    ContentNotFound,
    ContentTooLarge,
    InvalidCid,
    LocalStore,
    StoreConfigError,
    StoreUnavailable,
    compute_cid,
    open_store,
    parse_cid,
)
from client_kit.storage.ipfs_http import IpfsHttpStore
from client_kit.storage.pinata import PinataStore

HELLO_CID = "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"
MULTI_CHUNK = hashlib.shake_256(b"store test").digest(600_000)


def free_loopback_port() -> int:
    """A port nothing listens on (bound, read, released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- local store ---------------------------------------------------------------------------------


def test_local_round_trip_returns_the_ipfs_cid(tmp_path):
    store = LocalStore(tmp_path)
    cid = store.put(b"hello world\n")
    assert cid == HELLO_CID
    assert store.get(cid) == b"hello world\n"
    assert store.has(cid)


def test_local_round_trip_of_a_multi_chunk_blob_reports_progress(tmp_path):
    store = LocalStore(tmp_path)
    puts: list[tuple[int, int]] = []
    gets: list[tuple[int, int]] = []
    cid = store.put(MULTI_CHUNK, progress=lambda d, t: puts.append((d, t)))
    assert cid == compute_cid(MULTI_CHUNK)
    assert cid.startswith("bafybei")
    assert store.get(cid, progress=lambda d, t: gets.append((d, t))) == MULTI_CHUNK
    assert puts[-1] == gets[-1] == (len(MULTI_CHUNK), len(MULTI_CHUNK))


def test_local_put_leaves_no_temporary_files(tmp_path):
    store = LocalStore(tmp_path)
    cid = store.put(b"a")
    store.put(b"a")
    assert sorted(p.name for p in tmp_path.iterdir()) == [cid]


def test_local_tampered_file_is_reported_not_returned(tmp_path):
    store = LocalStore(tmp_path)
    cid = store.put(MULTI_CHUNK)
    tampered = bytearray(MULTI_CHUNK)
    tampered[300_000] ^= 1
    store.path_for(cid).write_bytes(bytes(tampered))
    with pytest.raises(ContentMismatch) as raised:
        store.get(cid)
    assert raised.value.expected == cid


def test_local_missing_cid_is_content_not_found(tmp_path):
    with pytest.raises(ContentNotFound):
        LocalStore(tmp_path).get(HELLO_CID)
    assert not LocalStore(tmp_path).has(HELLO_CID)


def test_local_rejects_a_malformed_cid_before_touching_the_disk(tmp_path):
    with pytest.raises(InvalidCid):
        LocalStore(tmp_path).get("../../etc/passwd")


def test_local_size_limit(tmp_path):
    store = LocalStore(tmp_path)
    cid = store.put(MULTI_CHUNK)
    with pytest.raises(ContentTooLarge):
        store.get(cid, max_bytes=1000)


def test_default_local_dir_is_under_the_fedstake_home():
    assert LocalStore().root == Path("~/.fedstake/store").expanduser()


# --- store selection -----------------------------------------------------------------------------


def test_open_store_specs(tmp_path):
    assert open_store("local", home=tmp_path).root == tmp_path / "store"
    assert open_store(f"local:{tmp_path}").root == tmp_path
    assert open_store(str(tmp_path)).root == tmp_path
    assert open_store("ipfs").api_url == "http://127.0.0.1:5001"
    assert open_store("ipfs:http://127.0.0.1:5101").api_url == "http://127.0.0.1:5101"
    with pytest.raises(StoreConfigError):
        open_store("s3://bucket")


# --- kubo HTTP RPC -------------------------------------------------------------------------------


def test_ipfs_unreachable_node_is_store_unavailable():
    store = IpfsHttpStore(f"http://127.0.0.1:{free_loopback_port()}", timeout=2)
    with pytest.raises(StoreUnavailable):
        store.put(b"hello world\n")
    with pytest.raises(StoreUnavailable):
        store.get(HELLO_CID)
    with pytest.raises(StoreUnavailable):
        store.has(HELLO_CID)


def test_ipfs_api_url_must_be_http():
    with pytest.raises(StoreConfigError):
        IpfsHttpStore("/ip4/127.0.0.1/tcp/5001")


# --- Pinata --------------------------------------------------------------------------------------


def test_pinata_without_credentials_is_a_config_error(monkeypatch):
    monkeypatch.delenv("PINATA_API_KEY", raising=False)
    monkeypatch.delenv("PINATA_SECRET_API_KEY", raising=False)
    with pytest.raises(StoreConfigError):
        PinataStore()


def test_pinata_without_the_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pinatapy", None)  # `import pinatapy` now fails
    store = PinataStore("key", "secret")
    with pytest.raises(StoreConfigError, match="pinatapy-vourhey"):
        store.put(b"hello world\n")


def test_pinata_gateway_unreachable_is_store_unavailable():
    store = PinataStore("key", "secret", gateway=f"http://127.0.0.1:{free_loopback_port()}")
    with pytest.raises(StoreUnavailable):
        store.get(HELLO_CID)


def test_same_cid_ignores_the_multibase():
    from client_kit.storage.base import same_cid

    base58 = "zb2rhj7crUKTQYRGCRATFaQ6YFLTde2YzdqbbhAASkL9uRDXn"  # hello world, CIDv1 raw
    assert parse_cid(base58) == parse_cid(compute_cid(b"hello world"))
    assert same_cid(base58, compute_cid(b"hello world"))
    assert not same_cid(base58, HELLO_CID)
    assert not same_cid("garbage", HELLO_CID)
