"""`fedstake round …`: a round's windows and counters, and expiring a round
the aggregator left unfinalized (anyone may)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from client_kit.accounts import as_dict
from client_kit.actions import exits
from client_kit.actions.reads import find_round, load_pool
from client_kit.cli.output import emit
from client_kit.cli.session import Session, format_sol, parse_pubkey
from client_kit.errors import InvalidInput

round_app = typer.Typer(
    help="Rounds: show one's windows and counters, expire a silent one.", no_args_is_help=True
)

PoolArg = Annotated[str, typer.Argument(help="Pool address (base58), as printed by `pool create`.")]


@round_app.command("show")
def round_show(
    ctx: typer.Context,
    pool: PoolArg,
    number: Annotated[
        int | None, typer.Option("--round", help="Round number (default: the current one).")
    ] = None,
) -> None:
    """A round's windows (unix seconds), counters and resulting global model."""
    s: Session = ctx.obj
    key = parse_pubkey(pool, "pool")

    async def go() -> dict[str, Any]:
        chain = s.gateway()
        state = await load_pool(chain, key)
        wanted = state.round if number is None else number
        found = await find_round(chain, key, wanted)
        if found is None:
            raise InvalidInput(f"pool {key} has no round {wanted}")
        now = await chain.unix_time()
        view = {"pool": str(key), **as_dict(found)}
        view["reward_budget"] = format_sol(found.reward_budget)
        view["reward_accrued"] = format_sol(found.reward_accrued)
        view["now"] = now
        view["submissions_closed"] = found.submissions_closed(now)
        view["reveals_closed"] = found.reveals_closed(now)
        return view

    emit(s.run(go()), s.as_json, "round")


@round_app.command("expire")
def round_expire(ctx: typer.Context, pool: PoolArg) -> None:
    """Expire the pool's current round once it passed its `expires_at` unfinalized
    (anyone): the pool ends Expired, stakes become withdrawable."""
    s: Session = ctx.obj
    key = parse_pubkey(pool, "pool")
    caller = s.keypair()

    async def go() -> dict[str, Any]:
        tx = await exits.expire_round(s.gateway(), caller, key)
        return {"pool": pool, "signature": tx.signature}

    emit(s.run(go()), s.as_json, "round expired")
