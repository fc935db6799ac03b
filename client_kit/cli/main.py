"""`fedstake`: organizations run pools, participants join, submit and claim.

Every command prints a table (or JSON with `--json`). Any `FedstakeError`,
and any usage error typer finds, is one line on stderr (`error: …`) and exit
code 1; nothing is sent when a check fails locally. Global options (`--url`,
`--keypair`, `--home`, `--json`) may come before or after the subcommand,
as with the Solana CLI.

The commands are thin: each parses its arguments and runs one
`client_kit.actions` function. This package is the application layer, so
`task init` may use the operator's rule registry (`offchain`) to check a
task's rule; the rest of client_kit never imports offchain.

Packages above this one add their command groups without being imported
here: each entry point of the `fedstake.commands` group (pyproject.toml) is a
typer app added under its name (`api` → `frontend_api.cli:api_app`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated

import click
import typer

from client_kit.cli import participant
from client_kit.cli.keys import keys_app
from client_kit.cli.pool import pool_app
from client_kit.cli.session import Session
from client_kit.cli.task import task_app
from client_kit.config import resolve_settings
from client_kit.errors import FedstakeError

app = typer.Typer(
    help="fedstake: incentivized federated learning pools on Solana.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # a traceback must never print a key
)
app.add_typer(pool_app, name="pool")
app.add_typer(keys_app, name="keys")
app.add_typer(task_app, name="task")
participant.register(app)
COMMAND_GROUP = "fedstake.commands"


def add_command_groups(target: typer.Typer) -> None:
    """Adds every `fedstake.commands` entry point (a typer app) under its name."""
    for entry in sorted(entry_points(group=COMMAND_GROUP), key=lambda e: e.name):
        target.add_typer(entry.load(), name=entry.name)


add_command_groups(app)

# Global options: name → takes a value. Moved in front of the subcommand.
GLOBAL_OPTIONS = {"--url": True, "-u": True, "--keypair": True, "-k": True, "--home": True}
GLOBAL_FLAGS = {"--json"}


@app.callback()
def main(
    ctx: typer.Context,
    url: Annotated[
        str | None, typer.Option("--url", "-u", help="embedded, localnet, devnet or an RPC URL.")
    ] = None,
    keypair: Annotated[
        Path | None, typer.Option("--keypair", "-k", help="Solana CLI keypair file.")
    ] = None,
    home: Annotated[
        Path | None, typer.Option("--home", help="fedstake data folder (default ~/.fedstake).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    ctx.obj = Session(resolve_settings(url, keypair, home=home), as_json)


def hoist_global_options(args: Sequence[str]) -> list[str]:
    """`args` with every global option (and its value) moved before the
    subcommand, so `fedstake status POOL --keypair K` works. Nothing after a
    `--` is touched; subcommands define none of these names."""
    front: list[str] = []
    rest: list[str] = []
    items = list(args)
    i = 0
    while i < len(items):
        arg = items[i]
        if arg == "--":
            rest.extend(items[i:])
            break
        name, has_value, _ = arg.partition("=")
        flag = name in GLOBAL_FLAGS and not has_value
        joined = name in GLOBAL_OPTIONS and has_value and name.startswith("--")
        if flag or joined:
            front.append(arg)
        elif arg in GLOBAL_OPTIONS and i + 1 < len(items):
            front.extend(items[i : i + 2])
            i += 1
        else:
            rest.append(arg)
        i += 1
    return front + rest


def _one_line(text: str) -> str:
    return " ".join(text.split())


def run(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point: runs the app and turns every named error
    into one stderr line and exit code 1."""
    args = hoist_global_options(sys.argv[1:] if argv is None else argv)
    try:
        code = app(args=args, prog_name="fedstake", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        print(exc.ctx.get_help() if exc.ctx else exc.format_message())
        code = 0
    except click.UsageError as exc:
        print(f"error: {_one_line(exc.format_message())}", file=sys.stderr)
        code = 1
    except click.Abort:
        print("error: aborted", file=sys.stderr)
        code = 1
    except FedstakeError as exc:
        print(f"error: {_one_line(str(exc)) or type(exc).__name__}", file=sys.stderr)
        code = 1
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    run()
