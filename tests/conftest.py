"""Fixtures shared by every suite: a real Surfpool validator with the packaged
program deployed (started once per test module, only by the tests that ask
for it), and its log tail attached to any failing test's report."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from client_kit.idl import load_idl
from client_kit.program import program_path
from scripts.validator import launcher

PROGRAM_ID = load_idl().address
STARTUPS: list[float] = []


@dataclass
class Surfnet:
    rpc_url: str
    ws_url: str
    stop: launcher.Stopper


@pytest.fixture(scope="module")
def surfnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Surfnet]:
    """Surfpool on free loopback ports; skips (with the launcher's reason) only
    when node is missing."""
    reason = launcher.unavailable_reason()
    if reason:
        pytest.skip(f"local validator unavailable: {reason}")
    t0 = time.monotonic()
    with program_path() as so_path:  # the program shipped in the package
        rpc_url, ws_url, stop = launcher.start_validator(
            so_path, str(PROGRAM_ID), workdir=tmp_path_factory.mktemp("surfpool")
        )
    STARTUPS.append(time.monotonic() - t0)
    try:
        yield Surfnet(rpc_url, ws_url, stop)
    finally:
        stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    report = yield
    if report.failed:
        net = getattr(item, "funcargs", {}).get("surfnet")
        stop = getattr(net, "stop", None)
        if stop is not None:
            report.sections.append((f"surfpool log ({stop.log_path})", stop.log_tail(60)))
    return report
