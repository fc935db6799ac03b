"""Attach the validator's log tail to the report of any failing smoke test."""

import pytest


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed:
        surfnet = getattr(item, "funcargs", {}).get("surfnet")
        stop = getattr(surfnet, "stop", None)
        if stop is not None:
            report.sections.append((f"surfpool log ({stop.log_path})", stop.log_tail(60)))
    return report
