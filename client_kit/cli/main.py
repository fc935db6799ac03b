"""The `fedstake` commands client_kit provides: organizations run pools,
participants join, commit, reveal and claim, anyone ends what nobody tends.

Every command prints a table (or JSON with `--json`). Any `FedstakeError`,
and any usage error typer finds, is one line on stderr (`error: …`) and exit
code 1; nothing is sent when a check fails locally. Global options (`--url`,
`--keypair`, `--home`, `--json`) may come before or after the subcommand,
as with the Solana CLI.

The commands are thin: each parses its arguments and runs one
`client_kit.actions` function. `build_app` assembles them; the console
command itself is composed in `offchain.cli`, which adds what needs the
operator runtime (the rule check of `task init`; later the operator service
and `verify-round`), so client_kit never imports offchain.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import click
import typer

from client_kit.cli import participant
from client_kit.cli.keys import keys_app
from client_kit.cli.pool import pool_app
from client_kit.cli.round import round_app
from client_kit.cli.session import Session
from client_kit.cli.task import RuleCheck, make_task_app
from client_kit.config import resolve_settings
from client_kit.errors import FedstakeError

# Global options: name → takes a value. Moved in front of the subcommand.
GLOBAL_OPTIONS = {"--url": True, "-u": True, "--keypair": True, "-k": True, "--home": True}
GLOBAL_FLAGS = {"--json"}


def build_app(*, check_rule: RuleCheck | None = None) -> typer.Typer:
    """The `fedstake` app with every client_kit command; `check_rule` vets a
    task's aggregation rule in `task init` (see `client_kit.cli.task`). The
    caller may add sub-apps and commands before running it."""
    app = typer.Typer(
        help="fedstake: incentivized federated learning pools on Solana.",
        no_args_is_help=True,
        pretty_exceptions_show_locals=False,  # a traceback must never print a key
    )
    app.callback()(_global_options)
    app.add_typer(pool_app, name="pool")
    app.add_typer(round_app, name="round")
    app.add_typer(keys_app, name="keys")
    app.add_typer(make_task_app(check_rule), name="task")
    participant.register(app)
    return app


def _global_options(
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


def run(app: typer.Typer, argv: Sequence[str] | None = None) -> None:
    """Runs `app` as a console command (`argv` defaults to the process's) and
    turns every named error, and any OS error on a path the user gave (e.g. an
    output folder that doesn't exist), into one stderr line and exit code 1."""
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
    except OSError as exc:  # a path the user gave: missing folder, a file where a folder goes
        where = f": {exc.filename}" if exc.filename else ""
        print(f"error: {exc.strerror or type(exc).__name__}{where}", file=sys.stderr)
        code = 1
    sys.exit(code if isinstance(code, int) else 0)
