"""The `fedstake` console command: client_kit's commands plus the ones that
need the operator runtime.

client_kit builds the app (`client_kit.cli.main.build_app`) and never imports
offchain; this module composes it with what only the operator side has: the
rule registry that checks a task's aggregation rule and parameters in
`task init`. The operator service (`fedstake operator …`) and
`fedstake verify-round` join here too.
"""

from __future__ import annotations

from collections.abc import Sequence

from client_kit.cli.main import build_app
from client_kit.cli.main import run as run_app
from offchain.aggregation import rule_for_task

app = build_app(check_rule=rule_for_task)


def run(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point (`[project.scripts] fedstake`)."""
    run_app(app, argv)


if __name__ == "__main__":
    run()
