"""The `fedstake` console command: client_kit's commands plus the ones that
need the runtime layer.

client_kit builds the app (`client_kit.cli.main.build_app`) and never imports
offchain; this module composes it with what only the runtime side has: the
rule registry that checks a task's aggregation rule and parameters in
`task init`, `fedstake participate` (the participant agent, `offchain.agent`,
a loop that follows a pool until it ends), the operator service (`fedstake
operator run | status | relay-claim`) and `fedstake verify-round`. The
commands only parse their arguments; the work is in `offchain.agent`,
`offchain.service`, `offchain.payout` and `offchain.verify`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from client_kit.cli.main import build_app
from client_kit.cli.main import run as run_app
from client_kit.cli.output import emit
from client_kit.cli.session import Session, parse_pubkey, parse_sol
from client_kit.errors import InvalidInput
from client_kit.gateway.embedded import EmbeddedGateway
from client_kit.keys import load_payout_secret
from client_kit.sealing import load_round_key
from client_kit.storage import open_store
from client_kit.training.behaviours import Behaviour
from offchain.agent import (
    AgentConfig,
    AgentEvent,
    ConsoleReporter,
    Ended,
    JsonLinesReporter,
    ParticipantAgent,
    Reporter,
)
from offchain.agent.agent import DEFAULT_POLL_INTERVAL
from offchain.agent.stopping import until_signal
from offchain.aggregation import rule_for_task
from offchain.journal import Journal
from offchain.payout import PayoutRelayer, Reveal
from offchain.reference import OperatorData
from offchain.service import (
    OperatorService,
    ServiceSettings,
    configure_logging,
    read_status,
    run_until_signalled,
)
from offchain.verify import verify_round

app = build_app(check_rule=rule_for_task)
operator_app = typer.Typer(
    help="The operator service: judge and finalize rounds, relay payout reveals.",
    no_args_is_help=True,
)
app.add_typer(operator_app, name="operator")

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data",
        envvar="FEDSTAKE_OPERATOR_DATA",
        help="Operator data folder: journal and status (default <home>/operator).",
    ),
]


def _session(ctx: typer.Context) -> Session:
    return ctx.find_root().obj  # type: ignore[no-any-return]


def _data_dir(s: Session, data: Path | None) -> Path:
    path = (data or s.settings.home / "operator").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _existing_file(path: Path | None, what: str) -> Path | None:
    if path is not None and not path.is_file():
        raise InvalidInput(f"{what}: no file at {path}")
    return path


@operator_app.command("run")
def operator_run(
    ctx: typer.Context,
    pool: Annotated[
        list[str] | None, typer.Option("--pool", help="A pool to run (repeatable).")
    ] = None,
    organization: Annotated[
        str | None,
        typer.Option(
            "--organization", envvar="FEDSTAKE_ORGANIZATION", help="Run this organization's pools."
        ),
    ] = None,
    data: DataDir = None,
    reference_data: Annotated[
        Path | None,
        typer.Option(
            envvar="FEDSTAKE_REFERENCE_DATA",
            help="The operator's reference set (.npz or .csv): the reference update.",
        ),
    ] = None,
    validation_data: Annotated[
        Path | None,
        typer.Option(
            envvar="FEDSTAKE_VALIDATION_DATA",
            help="Validation set for each round's evaluation (default: the reference set).",
        ),
    ] = None,
    poll: Annotated[
        float, typer.Option(envvar="FEDSTAKE_POLL", min=0.01, help="Longest sleep, seconds.")
    ] = 1.0,
    discover: Annotated[
        float, typer.Option(envvar="FEDSTAKE_DISCOVER", min=0.1, help="Pool listing period, s.")
    ] = 10.0,
    relay_rate: Annotated[
        float,
        typer.Option(envvar="FEDSTAKE_RELAY_RATE", min=0.1, help="Reveals per participant/min."),
    ] = 3.0,
    log_format: Annotated[
        str, typer.Option(envvar="FEDSTAKE_LOG_FORMAT", help="text or json (JSON lines).")
    ] = "text",
    log_level: Annotated[str, typer.Option(envvar="FEDSTAKE_LOG_LEVEL")] = "INFO",
) -> None:
    """Run the operator: watch the chain, judge and finalize every round of the
    pools this key aggregates, relay payout reveals. Stops on SIGINT/SIGTERM
    (or, with --pool, once every named pool has ended)."""
    s = _session(ctx)
    if pool and organization:
        raise InvalidInput("give --pool or --organization, not both")
    if log_format not in ("text", "json"):
        raise InvalidInput("--log-format must be text or json")
    configure_logging(log_format, log_level)
    settings = ServiceSettings(
        data_dir=_data_dir(s, data),
        pools=[parse_pubkey(p, "pool") for p in pool or []],
        organization=parse_pubkey(organization, "organization") if organization else None,
        operator_data=OperatorData(
            reference=_existing_file(reference_data, "--reference-data"),
            validation=_existing_file(validation_data, "--validation-data"),
        ),
        poll=poll,
        discover=discover,
        relay_rate=relay_rate,
    )
    keypair = s.keypair()
    chain, store = s.gateway(), s.store()
    if isinstance(chain, EmbeddedGateway):
        # another process may read the chain file: keep it current after every transaction
        chain.add_listener(lambda _landed: chain.save_state(s.state_path))

    async def go() -> None:
        service = OperatorService(chain, store, keypair, settings)
        await run_until_signalled(service)

    s.run(go())


@operator_app.command("status")
def operator_status(ctx: typer.Context, data: DataDir = None) -> None:
    """Print the running (or last) operator's status snapshot and the journal's rounds."""
    s = _session(ctx)
    folder = _data_dir(s, data)
    status = read_status(folder)
    if status is None:
        raise InvalidInput(f"no operator status in {folder}: has `fedstake operator run` run?")
    status["alive"] = _alive(int(status.get("pid", 0)))
    journal = Journal(folder)
    try:
        status["journal"] = journal.summary()
    finally:
        journal.close()
    if s.as_json:
        emit(status, True)
        return
    summary: dict[str, Any] = {
        "operator": status["operator"],
        "running": status["alive"] and status.get("running", False),
        "pid": status["pid"],
        "watcher ready": status["watcher"]["ready"],
        "relayed / refused": f"{status['relayer']['relayed']} / {status['relayer']['refused']}",
    }
    emit(summary, False, "operator")
    emit(
        [
            {
                "pool": p["pool"],
                "phase": p["phase"],
                "round": p["round"],
                "finalized": p["rounds_finalized"],
                "retries": p["retries"],
                "last error": p["last_error"] or "",
            }
            for p in status["pools"]
        ],
        False,
        "pools",
    )


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@operator_app.command("relay-claim")
def relay_claim(
    ctx: typer.Context,
    pool: Annotated[str, typer.Argument(help="Pool address.")],
    participant: Annotated[str, typer.Argument(help="The participant's wallet.")],
    secrets_dir: Annotated[
        Path | None,
        typer.Option(help="Folder of the participant's payout secret (default <home>/secrets)."),
    ] = None,
) -> None:
    """Relay a participant's payout reveal (its saved payout wallet and salt):
    checked against the on-chain commitment before any fee, then `claim_reward`
    with this key paying the fee. The salt is read from the secret file, never
    from the command line."""
    s = _session(ctx)
    key = parse_pubkey(pool, "pool")
    wallet = parse_pubkey(participant, "participant")
    secret = load_payout_secret(secrets_dir or s.settings.secrets_dir, key, wallet)
    relayer = PayoutRelayer(s.gateway(), s.keypair())
    reveal = Reveal(key, wallet, secret.payout_wallet, secret.salt)

    async def go() -> dict[str, Any]:
        done = await relayer.relay(reveal)
        return {
            "pool": pool,
            "participant": participant,
            "payout_wallet": str(done.payout_wallet),
            "paid_lamports": done.amount,
            "signature": done.signature,
        }

    emit(s.run(go()), s.as_json, "reward relayed")


@app.command("verify-round")
def verify_round_command(
    ctx: typer.Context,
    pool: Annotated[str, typer.Argument(help="Pool address.")],
    round_number: Annotated[int, typer.Argument(metavar="ROUND", min=1, help="Round number.")],
    round_key: Annotated[
        Path | None,
        typer.Option(
            "--round-key",
            help="That round's secret key file (pools with encrypted updates; from the operator).",
        ),
    ] = None,
) -> None:
    """Recompute a finalized round from the chain and storage alone (objective
    checks, the pool's rule, the reward policy) and compare every verdict and
    the global model's hash with the chain. Exit code 0 if they match, 1 with
    the differences otherwise. A pool with encrypted updates needs the round's
    secret key (`--round-key`; docs/PRIVACY.md)."""
    s = _session(ctx)
    key = parse_pubkey(pool, "pool")
    secret = None if round_key is None else load_round_key(round_key)
    result = s.run(verify_round(s.gateway(), s.store(), key, round_number, round_key=secret))
    if s.as_json:
        emit(result.as_dict(), True)
    else:
        print(result.report())
    if not result.ok:
        raise typer.Exit(1)


class EmbeddedAgentAlone(InvalidInput):
    """`participate` on the embedded chain without `--once`: the chain lives in
    this process only, so nobody else could open, close or judge a round
    while the agent waits for it."""


@app.command("participate")
def participate(
    ctx: typer.Context,
    pool: Annotated[str, typer.Argument(help="Pool address (base58).")],
    data: Annotated[
        Path,
        typer.Option(
            help="Your local data: .npz (x, y) or .csv; it never leaves this machine.",
            envvar="FEDSTAKE_DATA",
        ),
    ],
    stake: Annotated[
        str | None,
        typer.Option(help="Stake in SOL, to join if you have not.", envvar="FEDSTAKE_STAKE"),
    ] = None,
    payout_wallet: Annotated[
        str | None,
        typer.Option(
            help="Wallet committed for rewards at the join (default: your key).",
            envvar="FEDSTAKE_PAYOUT_WALLET",
        ),
    ] = None,
    claim: Annotated[
        bool,
        typer.Option(
            "--claim",
            help="At the end, claim the reward paying the fee yourself "
            "(links your key to the payout wallet; else claim later via a relayer).",
            envvar="FEDSTAKE_CLAIM",
        ),
    ] = False,
    behaviour: Annotated[
        str,
        typer.Option(
            help="Demos and tests only: honest, sign-flip, free-rider or tampered "
            "(see client_kit.training.behaviours)."
        ),
    ] = Behaviour.HONEST.value,
    seed: Annotated[
        int, typer.Option(help="Training seed (round r uses seed + r).", envvar="FEDSTAKE_SEED")
    ] = 0,
    poll: Annotated[
        float,
        typer.Option(
            help="Seconds between chain reads while waiting.",
            min=0.05,
            envvar="FEDSTAKE_POLL_INTERVAL",
        ),
    ] = DEFAULT_POLL_INTERVAL,
    store: Annotated[
        str | None, typer.Option(help="Content store (default: FEDSTAKE_STORE or local).")
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Do what can be done now, then exit (no waiting).")
    ] = False,
) -> None:
    """Follow a pool until it ends: join if needed, then every round fetch the
    global model (hash checked), train, commit, reveal once the submission
    phase closes, and print the verdict; at the end withdraw (and claim with
    --claim). Resumable: run it again after a crash. SIGINT/SIGTERM stop it
    cleanly (exit 0)."""
    s: Session = ctx.obj
    if s.settings.embedded and not once:
        raise EmbeddedAgentAlone(
            "the embedded chain lives in this process only, so nobody could open or judge a "
            "round while the agent waits: use --once, or a validator (--url localnet)"
        )
    config = AgentConfig(
        pool=parse_pubkey(pool, "pool"),
        data=data,
        data_dir=s.settings.home / "agent",
        secrets_dir=s.settings.secrets_dir,
        stake=parse_sol(stake) if stake is not None else None,
        payout_wallet=parse_pubkey(payout_wallet, "payout wallet") if payout_wallet else None,
        behaviour=Behaviour.parse(behaviour),
        claim=claim,
        seed=seed,
        poll_interval=poll,
    )
    content = open_store(store or s.settings.store, home=s.settings.home)
    wallet = s.keypair()
    reporter: Reporter = JsonLinesReporter() if s.as_json else ConsoleReporter()

    async def go() -> None:
        try:
            agent = ParticipantAgent(s.gateway(), content, wallet, config, reporter)
            stopped = await until_signal(agent.run(once=once))
        finally:
            reporter.close()  # also when the gateway could not be opened
        if stopped.signal is not None:
            reporter.event(AgentEvent("stopped", {"pool": pool, "why": stopped.signal.name}))
        elif not isinstance(stopped.result, Ended) and stopped.result is not None:
            waiting = stopped.result
            reporter.event(
                AgentEvent(
                    "waiting",
                    {"pool": pool, "for": waiting.text, "seconds_left": waiting.seconds_left},
                )
            )

    s.run(go())


def run(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point (`[project.scripts] fedstake`)."""
    run_app(app, argv)


if __name__ == "__main__":
    run()
