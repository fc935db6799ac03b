"""`fedstake keys …`: make a keypair without the Solana CLI, and show yours."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from solders.keypair import Keypair

from client_kit.cli.output import emit
from client_kit.cli.session import Session
from client_kit.keys import write_keypair

keys_app = typer.Typer(help="Keypairs: create one, show yours.", no_args_is_help=True)


@keys_app.command("new")
def keys_new(
    ctx: typer.Context,
    outfile: Annotated[
        Path | None,
        typer.Option(help="Where to write it (default: --keypair, ~/.config/solana/id.json)."),
    ] = None,
) -> None:
    """Write a new keypair as a Solana CLI file (mode 0600); never overwrites one."""
    s: Session = ctx.obj
    keypair = Keypair()
    path = write_keypair(outfile or s.settings.keypair_path, keypair)
    emit({"pubkey": str(keypair.pubkey()), "outfile": str(path)}, s.as_json, "keypair")


@keys_app.command("show")
def keys_show(ctx: typer.Context) -> None:
    """The public key of your keypair (--keypair)."""
    s: Session = ctx.obj
    emit(
        {"pubkey": str(s.keypair().pubkey()), "keypair": str(s.settings.keypair_path)},
        s.as_json,
        "keypair",
    )
