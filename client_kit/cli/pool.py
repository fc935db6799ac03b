"""`fedstake pool …`: what an organization does (create, fund, start, cancel,
close) and what anyone can look up (show, list)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from solders.pubkey import Pubkey

from client_kit.accounts import Pool, as_dict
from client_kit.actions import organization
from client_kit.actions.reads import instructions, list_pools, load_pool
from client_kit.cli.output import emit
from client_kit.cli.session import Session, format_sol, parse_pubkey, parse_sol, read_input_file
from client_kit.training.task import TaskPackage

pool_app = typer.Typer(help="Organizations: create, fund and run pools.", no_args_is_help=True)

PoolArg = Annotated[str, typer.Argument(help="Pool address (base58), as printed by `pool create`.")]


def _session(ctx: typer.Context) -> Session:
    return ctx.obj


@pool_app.command("create")
def pool_create(
    ctx: typer.Context,
    task: Annotated[
        Path, typer.Option(help="Task package file (`fedstake task init` writes one).")
    ],
    pool_id: Annotated[
        int | None, typer.Option(help="Your number for this pool (default: the next free one).")
    ] = None,
    aggregator: Annotated[str | None, typer.Option(help="Aggregator key (default: you).")] = None,
    reward_per_round: Annotated[str, typer.Option(help="SOL paid out per round.")] = "1",
    max_rounds: Annotated[int, typer.Option(min=1)] = 3,
    round_duration: Annotated[int, typer.Option(help="Seconds per round.", min=1)] = 600,
    join_window: Annotated[int, typer.Option(help="Seconds from now to join.", min=1)] = 3600,
    min_stake: Annotated[str, typer.Option(help="Minimum stake in SOL.")] = "0.1",
    max_participants: Annotated[int, typer.Option(min=1)] = 20,
    slash_bps: Annotated[int, typer.Option(help="Stake slashed on rejection (bps).")] = 5000,
) -> None:
    """Open a pool: store the task package and its initial model, record their CIDs."""
    s = _session(ctx)
    package = read_input_file(task, "task package", TaskPackage.from_bytes)
    terms = organization.PoolTerms(
        reward_per_round=parse_sol(reward_per_round),
        max_rounds=max_rounds,
        round_duration=round_duration,
        join_window=join_window,
        min_stake=parse_sol(min_stake),
        max_participants=max_participants,
        slash_bps=slash_bps,
    )
    agg = parse_pubkey(aggregator, "aggregator") if aggregator else None
    organizer = s.keypair()
    store = s.store()

    async def go() -> dict[str, Any]:
        with s.progress("storing task package") as progress:
            created = await organization.create_pool(
                s.gateway(),
                store,
                organizer,
                package,  # type: ignore[arg-type]
                terms,
                pool_id=pool_id,
                aggregator=agg,
                progress=progress,
            )
        return {
            "pool": str(created.pool),
            "pool_id": created.pool_id,
            "task_cid": created.task_cid,
            "initial_model_cid": created.initial_model_cid,
            "initial_model_hash": created.initial_model_hash.hex(),
            "signature": created.tx.signature,
        }

    emit(s.run(go()), s.as_json, "pool created")


@pool_app.command("fund")
def pool_fund(
    ctx: typer.Context, pool: PoolArg, amount: Annotated[str, typer.Argument(help="SOL")]
) -> None:
    """Add reward funding to a pool's vault (anyone may fund)."""
    s = _session(ctx)
    lamports = parse_sol(amount)
    key = parse_pubkey(pool, "pool")
    funder = s.keypair()

    async def go() -> dict[str, Any]:
        funded = await organization.fund_pool(s.gateway(), funder, key, lamports)
        return {
            "pool": pool,
            "funded": format_sol(funded.total_funded),
            "signature": funded.tx.signature,
        }

    emit(s.run(go()), s.as_json, "pool funded")


def _organization_step(ctx: typer.Context, pool: str, step: Any, title: str) -> None:
    s = _session(ctx)
    key = parse_pubkey(pool, "pool")
    organizer = s.keypair()

    async def go() -> dict[str, Any]:
        tx = await step(s.gateway(), organizer, key)
        return {"pool": pool, "signature": tx.signature}

    emit(s.run(go()), s.as_json, title)


@pool_app.command("start")
def pool_start(ctx: typer.Context, pool: PoolArg) -> None:
    """Close joining and open round 1 (needs full funding)."""
    _organization_step(ctx, pool, organization.start_training, "training started")


@pool_app.command("cancel")
def pool_cancel(ctx: typer.Context, pool: PoolArg) -> None:
    """Cancel an Open pool: funding returns to you, stakes become withdrawable."""
    _organization_step(ctx, pool, organization.cancel_pool, "pool cancelled")


@pool_app.command("close")
def pool_close(ctx: typer.Context, pool: PoolArg) -> None:
    """Reclaim the vault's leftovers and rent once every participant has withdrawn."""
    _organization_step(ctx, pool, organization.close_pool, "pool closed")


def pool_view(key: Pubkey, pool: Pool, vault_lamports: int) -> dict[str, Any]:
    """A pool as the CLI shows it: every field, amounts in SOL."""
    view = {"pool": str(key), **as_dict(pool), "vault_balance": format_sol(vault_lamports)}
    for name in ("reward_per_round", "min_stake", "total_funded", "total_paid", "total_staked"):
        view[name] = format_sol(getattr(pool, name))
    return view


@pool_app.command("show")
def pool_show(ctx: typer.Context, pool: PoolArg) -> None:
    """Everything the chain knows about one pool."""
    s = _session(ctx)
    key = parse_pubkey(pool, "pool")

    async def go() -> dict[str, Any]:
        chain = s.gateway()
        state = await load_pool(chain, key)
        vault = await chain.get_balance(instructions(chain).vault(key))
        return pool_view(key, state, vault)

    emit(s.run(go()), s.as_json, "pool")


@pool_app.command("list")
def pool_list(
    ctx: typer.Context,
    organization_key: Annotated[
        str | None, typer.Option("--organization", help="Only this organization's pools.")
    ] = None,
) -> None:
    """Every pool of the program on this cluster."""
    s = _session(ctx)
    owner = parse_pubkey(organization_key, "organization") if organization_key else None

    async def go() -> list[dict[str, Any]]:
        return [
            {
                "pool": str(key),
                "pool_id": pool.pool_id,
                "status": pool.status.value,
                "round": f"{pool.round}/{pool.max_rounds}",
                "participants": pool.participant_count,
                "funded": format_sol(pool.total_funded),
                "organization": str(pool.organization),
            }
            for key, pool in await list_pools(s.gateway(), owner)
        ]

    emit(s.run(go()), s.as_json, "pools")
