"""The store the end-to-end processes share: a kubo node of their own on
loopback when kubo can be built here, else a local store folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scripts.ipfs import node as kubo


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A `FEDSTAKE_STORE` value: `ipfs:<api url>` of a fresh kubo node (stopped
    after the module), or `local:<folder>` when kubo is unavailable (no Go)."""
    folder = tmp_path_factory.mktemp("e2e-store")
    if kubo.unavailable_reason() is not None:
        yield f"local:{folder / 'store'}"
        return
    node = kubo.KuboNode(folder / "repo", kubo.ensure_binary())
    node.start()
    try:
        yield f"ipfs:{node.api_url}"
    finally:
        node.stop()
