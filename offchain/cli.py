"""The `fedstake` console command: client_kit's commands plus the ones that
need the operator runtime.

client_kit builds the app (`client_kit.cli.main.build_app`) and never imports
offchain; this module composes it with what only the runtime side has: the
rule registry that checks a task's aggregation rule and parameters in
`task init`, and `fedstake participate`, the participant agent
(`offchain.agent`), a loop that follows a pool until it ends. The operator
service (`fedstake operator …`) and `fedstake verify-round` join here too.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from client_kit.cli.main import build_app
from client_kit.cli.main import run as run_app
from client_kit.cli.session import Session, parse_pubkey, parse_sol
from client_kit.errors import InvalidInput
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

app = build_app(check_rule=rule_for_task)


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
