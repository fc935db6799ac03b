"""Participant commands: `airdrop`, `join`, `train`, `submit` (the
commitment), `reveal`, `claim`, `withdraw`, `status`, and `settle` (anyone, for
a participant who never came back). Each one parses its arguments and runs
one action."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from client_kit.actions import exits, participant
from client_kit.cli.output import emit
from client_kit.cli.session import Session, format_sol, parse_pubkey, parse_sol, read_input_file
from client_kit.enums import PoolStatus
from client_kit.keys import load_payout_secret

PoolArg = Annotated[str, typer.Argument(help="Pool address (base58), as printed by `pool create`.")]


def _session(ctx: typer.Context) -> Session:
    return ctx.obj


def airdrop(
    ctx: typer.Context,
    amount: Annotated[str, typer.Argument(help="SOL")],
    to: Annotated[str | None, typer.Option(help="Recipient (default: you).")] = None,
) -> None:
    """Request test SOL (embedded chain or a local validator)."""
    s = _session(ctx)
    lamports = parse_sol(amount)
    recipient = parse_pubkey(to, "recipient") if to else s.keypair().pubkey()

    async def go() -> dict[str, Any]:
        chain = s.gateway()
        await chain.airdrop(recipient, lamports)
        return {"wallet": str(recipient), "balance": format_sol(await chain.get_balance(recipient))}

    emit(s.run(go()), s.as_json, "airdrop")


def join(
    ctx: typer.Context,
    pool: PoolArg,
    stake: Annotated[str, typer.Option(help="Stake in SOL.")],
    payout_wallet: Annotated[
        str | None, typer.Option(help="Wallet that receives rewards (default: your key).")
    ] = None,
) -> None:
    """Stake into a pool; the payout wallet is committed as sha256(wallet ‖ salt)."""
    s = _session(ctx)
    key = parse_pubkey(pool, "pool")
    lamports = parse_sol(stake)
    payout = parse_pubkey(payout_wallet, "payout wallet") if payout_wallet else None
    wallet = s.keypair()

    async def go() -> dict[str, Any]:
        joined = await participant.join_pool(
            s.gateway(),
            wallet,
            key,
            lamports,
            payout_wallet=payout,
            secrets_dir=s.settings.secrets_dir,
        )
        return {
            "pool": pool,
            "wallet": str(wallet.pubkey()),
            "stake": format_sol(joined.stake),
            "payout_secret": str(joined.secret_path),
            "signature": joined.tx.signature,
        }

    emit(s.run(go()), s.as_json, "joined")


def train(
    ctx: typer.Context,
    pool: PoolArg,
    data: Annotated[Path, typer.Option(help="Your local data: .npz (x, y) or .csv.")],
    out: Annotated[Path, typer.Option(help="Where to write the update (canonical bytes).")],
    seed: Annotated[int, typer.Option(help="Seed for shuffling and init.")] = 0,
) -> None:
    """Fetch the task and current global model, check its hash, train locally.

    Your data never leaves this machine; only the update file is written.
    Commit to it with `fedstake submit POOL --update OUT --samples N`, then
    publish it with `fedstake reveal POOL --update OUT` once the submission
    phase closes.
    """
    from rich.progress import Progress

    s = _session(ctx)
    key = parse_pubkey(pool, "pool")
    store = s.store()

    async def go() -> dict[str, Any]:
        with s.progress("fetching task and global model") as fetching:
            inputs = await participant.fetch_round_inputs(
                s.gateway(), store, key, progress=fetching
            )
        epochs = inputs.task.training.epochs
        with Progress(transient=True, disable=s.as_json) as bar:
            job = bar.add_task(f"training round {inputs.state.round}", total=epochs)

            def on_epoch(done: int, total: int, loss: float) -> None:
                bar.update(job, completed=done, description=f"epoch {done}/{total} loss {loss:.4f}")

            result = await participant.train_round(inputs, data, seed=seed, progress=on_epoch)
        prepared = participant.prepare_update(result.update)
        out.write_bytes(prepared.data)
        return {
            "pool": pool,
            "round": inputs.state.round,
            "update": str(out),
            "update_hash": prepared.update_hash.hex(),
            "samples": result.num_samples,
            "train_loss": round(result.train_loss, 4),
            "train_accuracy": round(result.train_accuracy, 4),
        }

    emit(s.run(go()), s.as_json, "trained")


def submit(
    ctx: typer.Context,
    pool: PoolArg,
    update: Annotated[Path, typer.Option(help="Update file (canonical bytes).")],
    samples: Annotated[int, typer.Option(help="Local training samples used.", min=1)],
) -> None:
    """Commit to an update for the pool's open round (its SHA-256 only).

    Nothing is uploaded yet: that would let peers copy it. Once the round's
    submission phase closes, publish it with `fedstake reveal POOL --update FILE`.
    """
    s = _session(ctx)
    key = parse_pubkey(pool, "pool")
    prepared = read_input_file(update, "update", participant.prepare_update)
    wallet = s.keypair()

    async def go() -> dict[str, Any]:
        sent = await participant.submit_update(
            s.gateway(),
            wallet,
            key,
            prepared,  # type: ignore[arg-type]
            samples,
        )
        return {
            "pool": pool,
            "round": sent.round,
            "update_hash": sent.update_hash.hex(),
            "signature": sent.tx.signature,
        }

    emit(s.run(go()), s.as_json, "update committed")


def reveal(
    ctx: typer.Context,
    pool: PoolArg,
    update: Annotated[Path, typer.Option(help="The update file you committed to.")],
) -> None:
    """Store your committed update and reveal its CID, once the round's
    submission phase is closed and before its reveal deadline."""
    s = _session(ctx)
    key = parse_pubkey(pool, "pool")
    prepared = read_input_file(update, "update", participant.prepare_update)
    wallet = s.keypair()
    store = s.store()

    async def go() -> dict[str, Any]:
        with s.progress("storing update") as progress:
            revealed = await participant.reveal_update(
                s.gateway(),
                store,
                wallet,
                key,
                prepared,  # type: ignore[arg-type]
                progress=progress,
            )
        return {
            "pool": pool,
            "round": revealed.round,
            "update_cid": revealed.update_cid,
            "signature": revealed.tx.signature,
        }

    emit(s.run(go()), s.as_json, "update revealed")


def claim(
    ctx: typer.Context,
    pool: PoolArg,
    wallet: Annotated[
        str | None, typer.Option(help="Participant wallet (default: your key).")
    ] = None,
) -> None:
    """Reveal the saved payout wallet and salt; the program pays the committed wallet."""
    s = _session(ctx)
    key = parse_pubkey(pool, "pool")
    payer = s.keypair()
    participant_wallet = parse_pubkey(wallet, "wallet") if wallet else payer.pubkey()
    secret = load_payout_secret(s.settings.secrets_dir, key, participant_wallet)

    async def go() -> dict[str, Any]:
        claimed = await participant.claim_reward(s.gateway(), payer, key, secret)
        return {
            "pool": pool,
            "payout_wallet": str(claimed.payout_wallet),
            "paid": format_sol(claimed.paid),
            "signature": claimed.tx.signature,
        }

    emit(s.run(go()), s.as_json, "reward claimed")


def withdraw(ctx: typer.Context, pool: PoolArg) -> None:
    """Take back your unslashed stake once the pool ended, claimed or not.

    With reward still unpaid your participant account stays open: claim, then
    withdraw again to close it (or anyone settles it after the claim window).
    """
    s = _session(ctx)
    key = parse_pubkey(pool, "pool")
    wallet = s.keypair()

    async def go() -> dict[str, Any]:
        done = await participant.withdraw_stake(s.gateway(), wallet, key)
        return {
            "pool": pool,
            "returned": format_sol(done.returned),
            "account_closed": done.closed,
            "signature": done.tx.signature,
        }

    emit(s.run(go()), s.as_json, "stake withdrawn")


def settle(
    ctx: typer.Context,
    pool: PoolArg,
    wallet: Annotated[str, typer.Option(help="The participant's wallet.")],
) -> None:
    """After the claim window (anyone): close a participant account still
    open; its stake and rent go to its wallet, unpaid reward is forfeited."""
    s = _session(ctx)
    key = parse_pubkey(pool, "pool")
    member = parse_pubkey(wallet, "wallet")
    caller = s.keypair()

    async def go() -> dict[str, Any]:
        done = await exits.settle_participant(s.gateway(), caller, key, member)
        return {
            "pool": pool,
            "wallet": wallet,
            "stake_returned": format_sol(done.stake_returned),
            "forfeited": format_sol(done.forfeited),
            "signature": done.tx.signature,
        }

    emit(s.run(go()), s.as_json, "participant settled")


def status(
    ctx: typer.Context,
    pool: PoolArg,
    wallet: Annotated[str | None, typer.Option(help="Participant (default: your key).")] = None,
) -> None:
    """Your stake, rewards and current-round submission in a pool."""
    s = _session(ctx)
    key = parse_pubkey(pool, "pool")
    who = parse_pubkey(wallet, "wallet") if wallet else s.keypair().pubkey()

    async def go() -> dict[str, Any]:
        view = await participant.participant_status(s.gateway(), key, who)
        state, member = view.pool, view.participant
        out: dict[str, Any] = {
            "pool": str(key),
            "pool_status": state.status.value,
            "round": state.round,
            "wallet": str(who),
            "status": member.status.value,
            "stake": format_sol(member.stake),
            "reward_accrued": format_sol(member.reward_accrued),
            "reward_unpaid": format_sol(member.reward_unpaid),
            "accepted": member.accepted_count,
            "excluded": member.excluded_count,
            "slashed": member.slashed_count,
        }
        if view.submission is not None:
            sub = view.submission
            shown = "revealed" if sub.revealed else "committed, not revealed"
            out["submission"] = f"{sub.verdict.value}, {shown} (score {sub.score} bps)"
        if state.status is PoolStatus.TRAINING:
            out["submissions_close_in"] = f"{max(0, state.round_deadline - view.now)} s"
        return out

    emit(s.run(go()), s.as_json, "participant")


def register(app: typer.Typer) -> None:
    """Adds the participant commands to the top-level app."""
    for command in (airdrop, join, train, submit, reveal, claim, withdraw, settle, status):
        app.command(command.__name__)(command)


__all__ = ["register"]
