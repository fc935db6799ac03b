"""The Surfpool validator fixture of the gateway tests, for the watcher's rpc cases."""

from tests.gateway.conftest import (  # noqa: F401 - fixtures and the log-tail hook
    Surfnet,
    pytest_runtest_makereport,
    surfnet,
)
