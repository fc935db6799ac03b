"""`fedstake pool …`: what an organization does (create, fund, start, cancel,
close), what anyone may do to end a pool nobody tends (expire, reclaim, close
after the claim window), and what anyone can look up (show, list)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from solders.pubkey import Pubkey

from client_kit.accounts import Pool, as_dict
from client_kit.actions import exits, organization
from client_kit.actions.reads import list_pools, load_pool
from client_kit.cli.output import emit
from client_kit.cli.session import Session, format_sol, parse_pubkey, parse_sol, read_input_file
from client_kit.enums import RewardPolicy
from client_kit.training.task import TaskPackage

pool_app = typer.Typer(
    help="Pools: organizations create, fund and run them; anyone may end one nobody tends.",
    no_args_is_help=True,
)
DEFAULTS = organization.PoolTerms(reward_per_round=1)

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
    max_rounds: Annotated[int, typer.Option(min=1)] = DEFAULTS.max_rounds,
    round_duration: Annotated[
        int, typer.Option(help="Seconds of a round's submission (commitment) phase.", min=1)
    ] = DEFAULTS.round_duration,
    reveal_duration: Annotated[
        int, typer.Option(help="Seconds to reveal after the submission deadline.", min=1)
    ] = DEFAULTS.reveal_duration,
    join_window: Annotated[
        int, typer.Option(help="Seconds from now to join.", min=1)
    ] = DEFAULTS.join_window,
    expiry_grace: Annotated[
        int,
        typer.Option(help="Seconds after a deadline before anyone may expire the pool.", min=1),
    ] = DEFAULTS.expiry_grace,
    claim_window: Annotated[
        int,
        typer.Option(help="Seconds after the end for participants to act themselves.", min=1),
    ] = DEFAULTS.claim_window,
    min_stake: Annotated[str, typer.Option(help="Minimum stake in SOL.")] = "0.1",
    max_participants: Annotated[int, typer.Option(min=1)] = DEFAULTS.max_participants,
    slash_bps: Annotated[
        int, typer.Option(help="Stake slashed for an objective fault (bps).")
    ] = DEFAULTS.slash_bps,
    reward_policy: Annotated[
        str, typer.Option(help="How accepted participants share a round: equal or contribution.")
    ] = DEFAULTS.reward_policy.value.lower(),
) -> None:
    """Open a pool: store the task package and its initial model, record their CIDs."""
    s = _session(ctx)
    package = read_input_file(task, "task package", TaskPackage.from_bytes)
    policy = RewardPolicy.parse(reward_policy)
    terms = organization.PoolTerms(
        reward_per_round=parse_sol(reward_per_round),
        max_rounds=max_rounds,
        round_duration=round_duration,
        join_window=join_window,
        min_stake=parse_sol(min_stake),
        max_participants=max_participants,
        slash_bps=slash_bps,
        reveal_duration=reveal_duration,
        expiry_grace=expiry_grace,
        claim_window=claim_window,
        reward_policy=policy,
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
            "reward_policy": terms.reward_policy.value,
            "signature": created.tx.signature,
        }

    emit(s.run(go()), s.as_json, "pool created")


@pool_app.command("fund")
def pool_fund(
    ctx: typer.Context, pool: PoolArg, amount: Annotated[str, typer.Argument(help="SOL")]
) -> None:
    """Add reward funding to a pool (anyone may fund)."""
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
    """Runs `step(chain, your keypair, pool)` — an organization's step, or one
    anyone may take — and prints its signature."""
    s = _session(ctx)
    key = parse_pubkey(pool, "pool")
    signer = s.keypair()

    async def go() -> dict[str, Any]:
        tx = await step(s.gateway(), signer, key)
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
    """Close an ended pool no participant account is left in: everything it
    holds goes to its organization. The organization may close it any time;
    anyone else after the claim window."""
    _organization_step(ctx, pool, exits.close_pool, "pool closed")


@pool_app.command("expire")
def pool_expire(ctx: typer.Context, pool: PoolArg) -> None:
    """Expire a pool that never started, from join deadline + expiry grace on
    (anyone; stakes become withdrawable). For a silent round: `round expire`."""
    _organization_step(ctx, pool, exits.expire_pool, "pool expired")


@pool_app.command("reclaim")
def pool_reclaim(ctx: typer.Context, pool: PoolArg) -> None:
    """Send an ended pool's funding nobody is owed back to its organization (anyone)."""
    s = _session(ctx)
    key = parse_pubkey(pool, "pool")
    caller = s.keypair()

    async def go() -> dict[str, Any]:
        done = await exits.reclaim_funding(s.gateway(), caller, key)
        return {
            "pool": pool,
            "organization": str(done.organization),
            "reclaimed": format_sol(done.amount),
            "signature": done.tx.signature,
        }

    emit(s.run(go()), s.as_json, "funding reclaimed")


def pool_view(key: Pubkey, pool: Pool, lamports: int) -> dict[str, Any]:
    """A pool as the CLI shows it: every field, amounts in SOL, and `balance`:
    every lamport the pool account holds (rent, stakes and reward balance)."""
    view = {"pool": str(key), **as_dict(pool), "balance": format_sol(lamports)}
    amounts = (
        "reward_per_round",
        "min_stake",
        "total_funded",
        "total_refunded",
        "total_accrued",
        "total_paid",
        "total_forfeited",
        "total_staked",
        "total_slashed",
    )
    for name in amounts:
        view[name] = format_sol(getattr(pool, name))
    view["reclaimable"] = format_sol(pool.reclaimable) if pool.ended else format_sol(0)
    return view


@pool_app.command("show")
def pool_show(ctx: typer.Context, pool: PoolArg) -> None:
    """Everything the chain knows about one pool."""
    s = _session(ctx)
    key = parse_pubkey(pool, "pool")

    async def go() -> dict[str, Any]:
        chain = s.gateway()
        state = await load_pool(chain, key)
        return pool_view(key, state, await chain.get_balance(key))

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
