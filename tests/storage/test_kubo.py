"""The IPFS backend against a real kubo node: add, cat, pin, CIDs, restarts."""

from __future__ import annotations

import hashlib

import pytest

from client_kit.storage.cid import DEFAULT_CHUNK_SIZE, compute_cid
from client_kit.storage.errors import ContentNotFound, StoreUnavailable
from client_kit.storage.ipfs_http import IpfsHttpStore

CHUNK = DEFAULT_CHUNK_SIZE


def stream(n: int, label: bytes = b"kubo") -> bytes:
    return hashlib.shake_256(b"fedstake " + label).digest(n)


@pytest.fixture
def store(kubo_node) -> IpfsHttpStore:
    return IpfsHttpStore(kubo_node.api_url, timeout=30)


def test_put_returns_the_locally_computed_cid_and_pins_it(kubo_node, store):
    # Given a multi-chunk update
    content = stream(3 * CHUNK + 17, b"pinned")
    # When it is stored through the HTTP RPC backend
    cid = store.put(content)
    # Then the node names it with the CID we compute, pins it, and serves the bytes
    assert cid == compute_cid(content)
    assert cid in kubo_node.cli("pin", "ls", "--type=recursive", "--quiet").decode().split()
    assert store.has(cid)
    assert store.get(cid) == content


def test_cat_through_the_node_cli_gives_the_same_bytes(kubo_node, store):
    content = stream(CHUNK + 1, b"cat")
    cid = store.put(content)
    assert kubo_node.cli("cat", cid) == content


def test_missing_cid_is_content_not_found(store):
    absent = compute_cid(b"never added to this node")
    with pytest.raises(ContentNotFound):
        store.get(absent)
    assert not store.has(absent)


def test_progress_is_reported_up_to_the_total(store):
    content = stream(2 * CHUNK, b"progress")
    seen: list[tuple[int, int]] = []
    cid = store.put(content, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (len(content), len(content))
    seen.clear()
    store.get(cid, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1][0] == len(content)


def test_content_survives_a_node_restart_and_the_outage_is_store_unavailable(kubo_node, store):
    content = stream(CHUNK + 5, b"restart")
    cid = store.put(content)
    kubo_node.stop()
    try:
        # While the node is down every call names the outage, never a missing CID.
        with pytest.raises(StoreUnavailable):
            store.get(cid)
        with pytest.raises(StoreUnavailable):
            store.has(cid)
        with pytest.raises(StoreUnavailable):
            store.put(b"while down")
    finally:
        kubo_node.start()
    assert store.get(cid) == content
