"""A real kubo node for the storage tests, started once per session.

kubo is built from the Go module proxy by scripts/ipfs/install.sh (cached in
.tools/ after the first run). The tests skip, with the reason, only when no Go
toolchain is there to build it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scripts.ipfs import node as kubo


@pytest.fixture(scope="session")
def kubo_binary():
    reason = kubo.unavailable_reason()
    if reason:
        pytest.skip(f"kubo unavailable: {reason}")
    return kubo.ensure_binary()


@pytest.fixture(scope="session")
def kubo_node(kubo_binary, tmp_path_factory: pytest.TempPathFactory) -> Iterator[kubo.KuboNode]:
    node = kubo.KuboNode(tmp_path_factory.mktemp("kubo") / "repo", kubo_binary)
    node.start()
    try:
        yield node
    finally:
        node.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the kubo log to the report of a failing test that used the node."""
    report = yield
    node = getattr(item, "funcargs", {}).get("kubo_node")
    if report.failed and node is not None:
        report.sections.append((f"kubo log ({node.log_path})", node.log_tail(60)))
    return report
