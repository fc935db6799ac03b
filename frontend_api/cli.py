"""The `fedstake` console command, composed at the top layer, and `fedstake
api serve` (the API and dashboard under uvicorn).

Each layer adds its own commands to the one below's and never reaches up:
client_kit builds the app (`client_kit.cli.main.build_app`), `offchain.cli`
adds what needs the operator runtime, and this module adds `api`. The entry
point (`[project.scripts] fedstake`) is `run` here.

`api serve` options fall back to `FEDSTAKE_API_*` variables
(`frontend_api.settings`); the chain is the global `--url` (embedded by
default: the chain `fedstake` keeps in `<home>/embedded-state.json`, loaded at
start and followed read-only). FastAPI and uvicorn are imported only when the
command runs, so the other commands start as fast as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import typer

from client_kit.cli.main import run as run_app
from offchain.cli import app

api_app = typer.Typer(help="The HTTP API, websocket feed and dashboard.", no_args_is_help=True)


@api_app.command("serve")
def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port (0: any free one).")] = None,
    pool: Annotated[
        list[str] | None, typer.Option("--pool", help="Follow only this pool (repeatable).")
    ] = None,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option("--cors-origin", help="Origin allowed by CORS (repeatable; * for any)."),
    ] = None,
    relayer_keypair: Annotated[
        str | None,
        typer.Option(
            help="Keypair file paying the fees of the claims /ws/payout relays "
            "(without it, /ws/payout refuses: relayer_unavailable)."
        ),
    ] = None,
) -> None:
    """Serves REST under /api, the feeds at /ws/feed and /ws/payout and the
    dashboard at / until Ctrl-C."""
    import asyncio

    from pydantic import ValidationError

    from client_kit.errors import FedstakeError, InvalidInput
    from frontend_api.app import create_app
    from frontend_api.errors import ApiError
    from frontend_api.server import server_config
    from frontend_api.settings import ApiSettings

    session = ctx.obj
    chosen: dict[str, Any] = {}
    if session is not None:
        client = session.settings
        chosen["url"] = client.rpc_url or "embedded"
        if client.ws_url:
            chosen["ws_url"] = client.ws_url
        if client.embedded:
            chosen["embedded_state"] = str(client.home / "embedded-state.json")
    for name, value in (
        ("host", host),
        ("port", port),
        ("pools", pool),
        ("cors_origins", cors_origin),
        ("relayer_keypair", relayer_keypair),
    ):
        if value is not None:
            chosen[name] = value
    try:
        settings = ApiSettings(**chosen)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"api settings: {where}: {first['msg']}") from None
    import uvicorn

    app = create_app(settings)
    server = uvicorn.Server(server_config(app, settings))
    typer.echo(
        f"fedstake api: http://{settings.host}:{settings.port}/ (dashboard), /docs (OpenAPI)"
    )
    asyncio.run(server.serve())
    if not server.started:
        error = app.state.startup_error
        if isinstance(error, FedstakeError):
            raise error  # one line on stderr, exit code 1 (client_kit.cli.main.run)
        raise ApiError(f"the server did not start: {error or 'see the log above'}")


app.add_typer(api_app, name="api")


def run(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point (`[project.scripts] fedstake`)."""
    run_app(app, argv)


if __name__ == "__main__":
    run()
