"""`fedstake`: organizations run pools, participants join, submit and claim.

Every command prints a table (or JSON with `--json`) and, on any error, one
line on stderr and exit code 1; nothing is sent when a check fails locally.
"""

from __future__ import annotations

import functools
import hashlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from solders.pubkey import Pubkey

from client_kit.accounts import (
    Participant,
    Pool,
    Round,
    Submission,
    account_kind,
    as_dict,
    decode_account,
)
from client_kit.canonical import MalformedUpdate, decode_tensors, encode_tensors, tensors_hash
from client_kit.cli.output import emit
from client_kit.cli.session import (
    CliError,
    Session,
    lamports_to_sol,
    parse_pubkey,
    sol_to_lamports,
)
from client_kit.config import ConfigError, resolve_settings
from client_kit.errors import ChainError
from client_kit.idl import IdlCodecError
from client_kit.instructions import PoolParams
from client_kit.keys import (
    KeypairError,
    PayoutSecretError,
    generate_salt,
    load_payout_secret,
    payout_commitment,
    save_payout_secret,
)
from client_kit.storage.errors import StorageError

app = typer.Typer(
    help="fedstake: incentivized federated learning pools on Solana.", no_args_is_help=True
)
pool_app = typer.Typer(help="Organizations: create, fund and run pools.", no_args_is_help=True)
app.add_typer(pool_app, name="pool")

F = TypeVar("F", bound=Callable[..., Any])
EXPECTED_ERRORS = (
    CliError,
    KeypairError,
    PayoutSecretError,
    ConfigError,
    ChainError,
    StorageError,
    MalformedUpdate,
    IdlCodecError,
    FileNotFoundError,
    IsADirectoryError,
)

PoolArg = Annotated[str, typer.Argument(help="Pool address (base58), as printed by `pool create`.")]


def cli_command(func: F) -> F:
    """Turns expected failures into one line on stderr and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except EXPECTED_ERRORS as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


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
    try:
        settings = resolve_settings(url, keypair, home=home)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    ctx.obj = Session(settings, as_json)


def _session(ctx: typer.Context) -> Session:
    return ctx.obj


def _read_model_file(path: Path) -> tuple[bytes, bytes]:
    """Canonical model bytes from `path` and their SHA-256, or a named error."""
    data = path.read_bytes()
    decode_tensors(data)  # raises MalformedUpdate with a reason
    return data, hashlib.sha256(data).digest()


def _transfer(s: Session, label: str, action: Callable[..., Any], *args: Any) -> Any:
    """Runs a store upload/download with a progress bar (hidden with --json)."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    columns = (TextColumn(label), BarColumn(), DownloadColumn())
    with Progress(*columns, transient=True, disable=s.as_json) as bar:
        job = bar.add_task(label, total=None)

        def on_progress(done: int, total: int) -> None:
            bar.update(job, completed=done, total=total if total >= 0 else None)

        return action(*args, progress=on_progress)


# --- organizations --------------------------------------------------------


@pool_app.command("create")
@cli_command
def pool_create(
    ctx: typer.Context,
    task: Annotated[Path, typer.Option(help="Task package file (stored, CID recorded).")],
    initial_model: Annotated[Path, typer.Option(help="Initial weights, canonical bytes.")],
    pool_id: Annotated[int, typer.Option(help="Your number for this pool.")] = 1,
    aggregator: Annotated[str | None, typer.Option(help="Aggregator key (default: you).")] = None,
    reward_per_round: Annotated[str, typer.Option(help="SOL paid out per round.")] = "1",
    max_rounds: Annotated[int, typer.Option(min=1)] = 3,
    round_duration: Annotated[int, typer.Option(help="Seconds per round.", min=1)] = 600,
    join_window: Annotated[int, typer.Option(help="Seconds from now to join.", min=1)] = 3600,
    min_stake: Annotated[str, typer.Option(help="Minimum stake in SOL.")] = "0.1",
    max_participants: Annotated[int, typer.Option(min=1)] = 20,
    slash_bps: Annotated[int, typer.Option(help="Stake slashed on rejection (bps).")] = 5000,
) -> None:
    """Open a pool: store the task package and initial model, record their CIDs."""
    s = _session(ctx)
    organization = s.keypair()
    store = s.store()
    task_cid = _transfer(s, "storing task package", store.put, task.read_bytes())
    model_bytes, model_hash = _read_model_file(initial_model)
    model_cid = _transfer(s, "storing initial model", store.put, model_bytes)
    agg = parse_pubkey(aggregator, "aggregator") if aggregator else organization.pubkey()

    async def go() -> dict[str, Any]:
        chain = s.gateway()
        now = await chain.unix_time()
        params = PoolParams(
            pool_id=pool_id,
            aggregator=agg,
            task_cid=task_cid,
            initial_model_hash=model_hash,
            initial_model_cid=model_cid,
            max_rounds=max_rounds,
            round_duration=round_duration,
            join_deadline=now + join_window,
            min_stake=sol_to_lamports(min_stake),
            max_participants=max_participants,
            reward_per_round=sol_to_lamports(reward_per_round),
            slash_bps=slash_bps,
        )
        ix = s.ix()
        result = await chain.send([ix.create_pool(organization.pubkey(), params)], [organization])
        pool = ix.pool(organization.pubkey(), pool_id)
        return {
            "pool": str(pool),
            "task_cid": task_cid,
            "initial_model_cid": model_cid,
            "initial_model_hash": model_hash.hex(),
            "signature": result.signature,
        }

    emit(s.run(go()), s.as_json, "pool created")


@pool_app.command("fund")
@cli_command
def pool_fund(
    ctx: typer.Context, pool: PoolArg, amount: Annotated[str, typer.Argument(help="SOL")]
) -> None:
    """Add reward funding to a pool (anyone may fund)."""
    s = _session(ctx)
    funder = s.keypair()
    lamports = sol_to_lamports(amount)
    key = parse_pubkey(pool, "pool")

    async def go() -> dict[str, Any]:
        await s.load_pool(key)
        result = await s.gateway().send(
            [s.ix().fund_pool(funder.pubkey(), key, lamports)], [funder]
        )
        state = await s.load_pool(key)
        return {
            "pool": pool,
            "funded": lamports_to_sol(state.total_funded),
            "signature": result.signature,
        }

    emit(s.run(go()), s.as_json, "pool funded")


def _organization_action(ctx: typer.Context, pool: str, build: str, title: str) -> None:
    s = _session(ctx)
    organization = s.keypair()
    key = parse_pubkey(pool, "pool")

    async def go() -> dict[str, Any]:
        await s.load_pool(key)
        ix = getattr(s.ix(), build)(organization.pubkey(), key)
        result = await s.gateway().send([ix], [organization])
        return {"pool": pool, "signature": result.signature}

    emit(s.run(go()), s.as_json, title)


@pool_app.command("start")
@cli_command
def pool_start(ctx: typer.Context, pool: PoolArg) -> None:
    """Close joining and open round 1 (needs full funding)."""
    _organization_action(ctx, pool, "start_training", "training started")


@pool_app.command("cancel")
@cli_command
def pool_cancel(ctx: typer.Context, pool: PoolArg) -> None:
    """Cancel an Open pool: funding returns to you, stakes become withdrawable."""
    _organization_action(ctx, pool, "cancel_pool", "pool cancelled")


@pool_app.command("close")
@cli_command
def pool_close(ctx: typer.Context, pool: PoolArg) -> None:
    """Take back the pool's leftovers and rent once no participant account is left."""
    _organization_action(ctx, pool, "close_pool", "pool closed")


def _pool_view(key: Pubkey, pool: Pool, lamports: int) -> dict[str, Any]:
    view = as_dict(pool)
    view = {"pool": str(key), **view, "balance": lamports_to_sol(lamports)}
    for name in ("reward_per_round", "min_stake", "total_funded", "total_paid", "total_staked"):
        view[name] = lamports_to_sol(getattr(pool, name))
    return view


@pool_app.command("show")
@cli_command
def pool_show(ctx: typer.Context, pool: PoolArg) -> None:
    """Everything the chain knows about one pool."""
    s = _session(ctx)
    key = parse_pubkey(pool, "pool")

    async def go() -> dict[str, Any]:
        state = await s.load_pool(key)
        return _pool_view(key, state, await s.gateway().get_balance(key))

    emit(s.run(go()), s.as_json, "pool")


@pool_app.command("list")
@cli_command
def pool_list(ctx: typer.Context) -> None:
    """Every pool of the program on this cluster."""
    s = _session(ctx)

    async def go() -> list[dict[str, Any]]:
        rows = []
        for key, info in await s.gateway().program_accounts():
            if account_kind(info.data) != "Pool":
                continue
            pool = decode_account(Pool, info.data)
            rows.append(
                {
                    "pool": str(key),
                    "status": pool.status,
                    "round": f"{pool.round}/{pool.max_rounds}",
                    "participants": pool.participant_count,
                    "funded": lamports_to_sol(pool.total_funded),
                    "organization": str(pool.organization),
                }
            )
        return sorted(rows, key=lambda r: r["pool"])

    emit(s.run(go()), s.as_json, "pools")


# --- participants ---------------------------------------------------------


@app.command("airdrop")
@cli_command
def airdrop(
    ctx: typer.Context,
    amount: Annotated[str, typer.Argument(help="SOL")],
    to: Annotated[str | None, typer.Option(help="Recipient (default: you).")] = None,
) -> None:
    """Request test SOL (embedded chain or a local validator)."""
    s = _session(ctx)
    recipient = parse_pubkey(to, "recipient") if to else s.keypair().pubkey()
    lamports = sol_to_lamports(amount)

    async def go() -> dict[str, Any]:
        await s.gateway().airdrop(recipient, lamports)
        return {
            "wallet": str(recipient),
            "balance": lamports_to_sol(await s.gateway().get_balance(recipient)),
        }

    emit(s.run(go()), s.as_json, "airdrop")


@app.command("join")
@cli_command
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
    wallet = s.keypair()
    key = parse_pubkey(pool, "pool")
    payout = parse_pubkey(payout_wallet, "payout wallet") if payout_wallet else wallet.pubkey()
    lamports = sol_to_lamports(stake)
    salt = generate_salt()

    async def go() -> dict[str, Any]:
        state = await s.load_pool(key)
        if lamports < state.min_stake:
            raise CliError(
                f"stake {lamports_to_sol(lamports)} is below the pool's minimum "
                f"{lamports_to_sol(state.min_stake)}"
            )
        # The salt is saved before the transaction: losing it would lose the rewards.
        path = save_payout_secret(s.settings.secrets_dir, key, wallet.pubkey(), payout, salt)
        commitment = payout_commitment(payout, salt)
        try:
            result = await s.gateway().send(
                [s.ix().join_pool(wallet.pubkey(), key, lamports, commitment)], [wallet]
            )
        except Exception:
            path.unlink(missing_ok=True)
            raise
        return {
            "pool": pool,
            "wallet": str(wallet.pubkey()),
            "stake": lamports_to_sol(lamports),
            "payout_secret": str(path),
            "signature": result.signature,
        }

    emit(s.run(go()), s.as_json, "joined")


@app.command("train")
@cli_command
def train(
    ctx: typer.Context,
    pool: PoolArg,
    data: Annotated[Path, typer.Option(help="Your local data: .npz (x, y) or .csv.")],
    out: Annotated[Path, typer.Option(help="Where to write the update (canonical bytes).")],
    seed: Annotated[int, typer.Option(help="Seed for shuffling and init.")] = 0,
) -> None:
    """Fetch the task and current global model, check its hash, train locally.

    Your data never leaves this machine; only the update file is written. Send
    it with `fedstake submit POOL --update OUT --samples N` (a commitment), then
    `fedstake reveal POOL --update OUT` once the submission phase closes.
    """
    from client_kit.training import data as training_data
    from client_kit.training import spec as training_spec
    from client_kit.training import task as training_task
    from client_kit.training import train as training

    training_errors = (
        training_data.InvalidDataset,
        training_task.InvalidTaskPackage,
        training_spec.InvalidModelSpec,
        training_spec.IncompatibleWeights,
        training.TrainingDiverged,
    )
    try:
        _train(_session(ctx), pool, data, out, seed)
    except training_errors as exc:
        raise CliError(f"{type(exc).__name__}: {exc}") from exc


def _train(s: Session, pool: str, data: Path, out: Path, seed: int) -> None:
    from rich.progress import Progress

    from client_kit.training.data import load_dataset
    from client_kit.training.task import TaskPackage
    from client_kit.training.train import train_local

    key = parse_pubkey(pool, "pool")
    state = s.run(s.load_pool(key))
    store = s.store()
    task = TaskPackage.from_bytes(_transfer(s, "fetching task", store.get, state.task_cid_str))
    model_bytes = _transfer(s, "fetching global model", store.get, state.global_model_cid_str)
    if hashlib.sha256(model_bytes).digest() != state.global_model_hash:
        raise CliError("the stored global model does not match the hash recorded on chain")
    weights = decode_tensors(model_bytes)
    dataset = load_dataset(data, task.model)
    epochs = task.training.epochs
    with Progress(transient=True, disable=s.as_json) as bar:
        job = bar.add_task(f"training round {state.round}", total=epochs)

        def on_epoch(done: int, total: int, loss: float) -> None:
            bar.update(job, completed=done, description=f"epoch {done}/{total} loss {loss:.4f}")

        result = train_local(task, weights, dataset, seed=seed, progress=on_epoch)
    out.write_bytes(encode_tensors(result.update))
    emit(
        {
            "pool": pool,
            "round": state.round,
            "update": str(out),
            "update_hash": tensors_hash(result.update).hex(),
            "samples": result.num_samples,
            "train_loss": round(result.train_loss, 4),
            "train_accuracy": round(result.train_accuracy, 4),
        },
        s.as_json,
        "trained",
    )


@app.command("submit")
@cli_command
def submit(
    ctx: typer.Context,
    pool: PoolArg,
    update: Annotated[Path, typer.Option(help="Update file (canonical bytes).")],
    samples: Annotated[int, typer.Option(help="Local training samples used.", min=1)],
) -> None:
    """Commit to an update: record its SHA-256 for the pool's open round.

    Nothing is uploaded yet (that would let peers copy it): once the round's
    submission phase closes, publish it with `fedstake reveal POOL --update FILE`.
    """
    s = _session(ctx)
    wallet = s.keypair()
    key = parse_pubkey(pool, "pool")
    _, update_hash = _read_model_file(update)

    async def go() -> dict[str, Any]:
        state = await s.load_pool(key)
        if state.status != "Training":
            raise CliError(f"pool is {state.status}, not Training")
        ix = s.ix().submit_update(
            wallet.pubkey(),
            key,
            state.round,
            update_hash=update_hash,
            num_samples=samples,
            base_model_hash=state.global_model_hash,
        )
        result = await s.gateway().send([ix], [wallet])
        return {
            "pool": pool,
            "round": state.round,
            "update_hash": update_hash.hex(),
            "signature": result.signature,
        }

    emit(s.run(go()), s.as_json, "update committed")


@app.command("reveal")
@cli_command
def reveal(
    ctx: typer.Context,
    pool: PoolArg,
    update: Annotated[Path, typer.Option(help="The update file you committed to.")],
) -> None:
    """Store your committed update and reveal its CID (after the submission phase)."""
    s = _session(ctx)
    wallet = s.keypair()
    key = parse_pubkey(pool, "pool")
    data, update_hash = _read_model_file(update)

    async def go() -> dict[str, Any]:
        state = await s.load_pool(key)
        info = await s.gateway().get_account(s.ix().submission(key, state.round, wallet.pubkey()))
        if info is None:
            raise CliError(f"no commitment of yours in round {state.round} of pool {key}")
        if decode_account(Submission, info.data).update_hash != update_hash:
            raise CliError("this file is not the update you committed to (hash differs)")
        round_info = await s.gateway().get_account(s.ix().round(key, state.round))
        round_state = decode_account(Round, round_info.data) if round_info else None
        if round_state is None or not round_state.submissions_closed(await s.gateway().unix_time()):
            # uploading now would let peers copy the update before they commit
            raise CliError("the submission phase is still open: reveal after it closes")
        cid = _transfer(s, "storing update", s.store().put, data)
        ix = s.ix().reveal_update(wallet.pubkey(), key, state.round, cid)
        result = await s.gateway().send([ix], [wallet])
        return {
            "pool": pool,
            "round": state.round,
            "update_cid": cid,
            "signature": result.signature,
        }

    emit(s.run(go()), s.as_json, "update revealed")


@app.command("claim")
@cli_command
def claim(
    ctx: typer.Context,
    pool: PoolArg,
    wallet: Annotated[
        str | None, typer.Option(help="Participant wallet (default: your key).")
    ] = None,
) -> None:
    """Reveal the saved payout wallet and salt; the program pays the committed wallet."""
    s = _session(ctx)
    payer = s.keypair()
    key = parse_pubkey(pool, "pool")
    participant_wallet = parse_pubkey(wallet, "wallet") if wallet else payer.pubkey()
    secret = load_payout_secret(s.settings.secrets_dir, key, participant_wallet)

    async def go() -> dict[str, Any]:
        chain = s.gateway()
        before = await chain.get_balance(secret.payout_wallet)
        ix = s.ix().claim_reward(key, participant_wallet, secret.payout_wallet, secret.salt)
        result = await chain.send([ix], [payer])
        paid = await chain.get_balance(secret.payout_wallet) - before
        return {
            "pool": pool,
            "payout_wallet": str(secret.payout_wallet),
            "paid": lamports_to_sol(paid),
            "signature": result.signature,
        }

    emit(s.run(go()), s.as_json, "reward claimed")


@app.command("withdraw")
@cli_command
def withdraw(ctx: typer.Context, pool: PoolArg) -> None:
    """Take back your unslashed stake after the pool finished or was cancelled."""
    s = _session(ctx)
    wallet = s.keypair()
    key = parse_pubkey(pool, "pool")

    async def go() -> dict[str, Any]:
        chain = s.gateway()
        before = await chain.get_balance(wallet.pubkey())
        result = await chain.send([s.ix().withdraw_stake(wallet.pubkey(), key)], [wallet])
        returned = await chain.get_balance(wallet.pubkey()) - before
        return {"pool": pool, "returned": lamports_to_sol(returned), "signature": result.signature}

    emit(s.run(go()), s.as_json, "stake withdrawn")


@app.command("status")
@cli_command
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
        chain = s.gateway()
        state = await s.load_pool(key)
        info = await chain.get_account(s.ix().participant(key, who))
        if info is None:
            raise CliError(f"{who} has not joined pool {key} (or has withdrawn)")
        participant = decode_account(Participant, info.data)
        view: dict[str, Any] = {
            "pool": str(key),
            "pool_status": state.status,
            "round": state.round,
            "wallet": str(who),
            "status": participant.status,
            "stake": lamports_to_sol(participant.stake),
            "reward_accrued": lamports_to_sol(participant.reward_accrued),
            "reward_unpaid": lamports_to_sol(participant.reward_unpaid),
            "accepted": participant.accepted_count,
            "excluded": participant.excluded_count,
            "slashed": participant.slashed_count,
        }
        sub = await chain.get_account(s.ix().submission(key, state.round, who))
        if sub is not None:
            submission = decode_account(Submission, sub.data)
            view["submission"] = f"{submission.verdict} (score {submission.score} bps)"
        now = await chain.unix_time()
        if state.status == "Training":
            view["round_closes_in"] = f"{max(0, state.round_deadline - now)} s"
        return view

    emit(s.run(go()), s.as_json, "participant")


def run() -> None:
    """Console-script entry point."""
    app(prog_name="fedstake")


if __name__ == "__main__":
    run()
