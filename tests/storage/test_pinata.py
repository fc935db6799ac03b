"""The Pinata backend, through `pinatapy`, against a local Pinata stand-in on kubo."""

from __future__ import annotations

import hashlib

import pytest

from client_kit.storage.cid import DEFAULT_CHUNK_SIZE, compute_cid
from client_kit.storage.errors import ContentNotFound, StoreUnavailable
from client_kit.storage.pinata import PinataStore
from tests.storage import pinata_server

pytest.importorskip("pinatapy", reason="pinatapy-vourhey is installed by `make setup` (dev extra)")

KEY, SECRET = "test-key", "test-secret"


@pytest.fixture(scope="module")
def pinata(kubo_node):
    with pinata_server.running(kubo_node.api_url, KEY, SECRET) as url:
        yield url


def test_put_pins_with_the_locally_computed_cid_and_reads_back(pinata):
    store = PinataStore(KEY, SECRET, api_url=pinata, gateway=pinata, timeout=30)
    content = hashlib.shake_256(b"pinata").digest(2 * DEFAULT_CHUNK_SIZE + 3)
    cid = store.put(content)
    assert cid == compute_cid(content)
    assert store.has(cid)
    assert store.get(cid) == content


def test_unknown_cid_is_not_pinned_and_not_found(pinata):
    store = PinataStore(KEY, SECRET, api_url=pinata, gateway=pinata, timeout=30)
    absent = compute_cid(b"never pinned")
    assert not store.has(absent)
    with pytest.raises(ContentNotFound):
        store.get(absent)


def test_wrong_credentials_are_refused_by_name(pinata):
    store = PinataStore(KEY, "wrong", api_url=pinata, gateway=pinata, timeout=30)
    with pytest.raises(StoreUnavailable, match="401"):
        store.put(b"refused")
    with pytest.raises(StoreUnavailable, match="401"):
        store.has(compute_cid(b"refused"))


def test_endpoints_come_from_the_environment(monkeypatch, pinata):
    monkeypatch.setenv("PINATA_API_URL", pinata)
    monkeypatch.setenv("PINATA_GATEWAY", pinata)
    store = PinataStore(KEY, SECRET)
    assert (store.api_url, store.gateway) == (pinata, pinata)
    cid = store.put(b"from env")
    assert store.get(cid) == b"from env"
