"""`make demo`: the whole system at work, told as a story.

An organization publishes a task (digits MLP), opens a pool and funds three
rounds of rewards. The operator runtime (round coordinator and payout
relayer, `offchain.service`) aggregates it; the API serves its state, the
live feed and the dashboard; seven participant agents (`offchain.agent`) follow
it on their own: four honest ones, an attacker that sends its update
sign-flipped, a free-rider that sends the global model back unchanged, and
one that reveals other bytes than it committed to (slashed: anyone can check).
Each stakes, trains on its private non-IID shard of digits, commits its
update's SHA-256 on chain, reveals it once everyone committed, and gets a
verdict: the operator checks every update against its commitment, runs the
pool's robust rule, pays the accepted ones by contribution and evaluates each
new global model on its held-out test set. At the end each participant
reveals its payout wallet and salt over `/ws/payout`; the relayer checks them
against the on-chain commitment and pays that wallet, which was never linked
to the trainer before. Everything the story prints comes from the API's bus —
what the dashboard shows.

    make demo                 # one process, on the embedded chain (LiteSVM)
    make demo URL=localnet    # Surfpool; the operator and each agent a process of its own
                              # (`fedstake operator run`, `fedstake participate`)

Run in a terminal, it keeps serving the dashboard until Ctrl-C; with
`CI=true` or without a terminal on stdin it exits once the story is told.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import websockets  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from solders.keypair import Keypair  # noqa: E402
from solders.pubkey import Pubkey  # noqa: E402

from client_kit.actions import exits, organization  # noqa: E402
from client_kit.actions.reads import find_participant, load_pool  # noqa: E402
from client_kit.canonical import decode_tensors, tensors_hash  # noqa: E402
from client_kit.enums import Verdict  # noqa: E402
from client_kit.errors import FedstakeError  # noqa: E402
from client_kit.events import (  # noqa: E402
    ParticipantJoined,
    RoundFinalized,
    SubmissionJudged,
    TrainingStarted,
)
from client_kit.gateway.base import ChainGateway  # noqa: E402
from client_kit.gateway.embedded import EmbeddedGateway  # noqa: E402
from client_kit.gateway.rpc import RpcGateway  # noqa: E402
from client_kit.keys import load_payout_secret, write_keypair  # noqa: E402
from client_kit.storage.local import LocalStore  # noqa: E402
from client_kit.training.behaviours import Behaviour  # noqa: E402
from client_kit.training.data import digits_mlp_spec, digits_shards, save_npz  # noqa: E402
from client_kit.training.task import TaskPackage, TrainingConfig  # noqa: E402
from frontend_api import ApiSettings, create_app  # noqa: E402
from frontend_api.operator import in_process  # noqa: E402
from frontend_api.server import running_server  # noqa: E402
from offchain.agent import AgentConfig, ParticipantAgent  # noqa: E402
from offchain.aggregation import DEFAULT_REWARD_POLICY  # noqa: E402
from offchain.bus import ChainEvent, OperatorEvent  # noqa: E402
from offchain.events import RoundEvaluated  # noqa: E402
from offchain.reference import OperatorData  # noqa: E402
from offchain.service import ServiceSettings  # noqa: E402

SOL = 1_000_000_000
ROUNDS = 3
STAKE = SOL // 2
PARTICIPANTS = [  # name, behaviour
    ("ana", Behaviour.HONEST),
    ("ben", Behaviour.HONEST),
    ("chloe", Behaviour.HONEST),
    ("dev", Behaviour.HONEST),
    ("mallory", Behaviour.SIGN_FLIP),
    ("fred", Behaviour.FREE_RIDER),
    ("eve", Behaviour.TAMPERED),
]
STORY = {
    Behaviour.HONEST: "honest",
    Behaviour.SIGN_FLIP: "attacker (sign-flip)",
    Behaviour.FREE_RIDER: "free-rider",
    Behaviour.TAMPERED: "reveals other bytes than it committed to",
}
console = Console(width=max(110, Console().width), highlight=False)


def sol(lamports: int) -> str:
    return f"{lamports / SOL:.4f}"


@dataclass
class Trainer:
    name: str
    behaviour: Behaviour
    home: Path
    wallet: Keypair = field(default_factory=Keypair)
    payout: Keypair = field(default_factory=Keypair)
    verdicts: dict[int, str] = field(default_factory=dict)
    reward: int = 0
    paid: int = 0

    @property
    def secrets(self) -> Path:
        return self.home / "secrets"  # where `fedstake participate` keeps it too


@dataclass
class World:
    chain: ChainGateway
    store: LocalStore
    work: Path
    organization: Keypair
    operator: Keypair
    trainers: list[Trainer]
    task: TaskPackage
    data: OperatorData
    shards: list
    pool: Pubkey | None = None
    accuracy: dict[int, float] = field(default_factory=dict)
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    # the operator's RoundEvaluated reaches the API's bus only when it runs in
    # the API's process; otherwise the demo measures the same test accuracy itself
    operator_in_process: bool = True

    def name_of(self, wallet: Pubkey) -> str:
        for t in self.trainers:
            if t.wallet.pubkey() == wallet:
                return t.name
        return str(wallet)[:8]


# --- the story, read from the API's bus -----------------------------------------------------------
async def tell(world: World, bus) -> None:  # type: ignore[no-untyped-def]
    """Prints what happens to the pool as the API sees it (its bus)."""
    with bus.subscribe() as feed:
        async for item in feed:
            if getattr(item, "pool", None) != world.pool:
                continue
            if isinstance(item, OperatorEvent) and isinstance(item.event, RoundEvaluated):
                event = item.event
                world.accuracy[event.round] = event.accuracy
                console.print(
                    f"  The operator evaluates global model {event.global_model_hash.hex()[:12]}… "
                    f"on its held-out test set: accuracy [bold]{event.accuracy:.1%}[/bold]."
                )
                if event.round == ROUNDS:
                    world.finished.set()
                else:
                    console.rule(f"round {event.round + 1}")
            if not isinstance(item, ChainEvent):
                continue
            event = item.event
            if isinstance(event, ParticipantJoined):
                console.print(
                    f"  {world.name_of(event.wallet)} stakes {sol(event.stake)} SOL and commits "
                    "to a hidden payout wallet (sha256(wallet ‖ salt))."
                )
            elif isinstance(event, TrainingStarted):
                console.rule("round 1")
            elif isinstance(event, SubmissionJudged):
                _verdict(world, event)
            elif isinstance(event, RoundFinalized):
                console.print(
                    f"  Round {event.round} finalized: global model "
                    f"{bytes(event.global_model_hash).hex()[:12]}… recorded on chain "
                    f"({event.accepted_count} accepted, {event.excluded_count} excluded, "
                    f"{event.slashed_count} slashed)."
                )
                if not world.operator_in_process:
                    await measure(world, event)


async def measure(world: World, event: RoundFinalized) -> None:
    """Test accuracy of the round's global model (the operator process publishes
    its own evaluation on its own bus and in its log)."""
    assert world.pool is not None
    pool = await load_pool(world.chain, world.pool)
    weights = decode_tensors(world.store.get(pool.global_model_cid_str))
    if tensors_hash(weights) == bytes(event.global_model_hash):
        # the operator's own evaluation (`OperatorData.evaluate`), off the event loop
        evaluation = await asyncio.to_thread(world.data.evaluate, world.task, weights)
        assert evaluation is not None  # the demo's operator data has a validation set
        world.accuracy[event.round] = evaluation.accuracy
        console.print(
            f"  Its test accuracy, measured by the demo: [bold]{evaluation.accuracy:.1%}[/bold]."
        )
    if event.round == ROUNDS:
        world.finished.set()
    else:
        console.rule(f"round {event.round + 1}")


def _verdict(world: World, event: SubmissionJudged) -> None:
    trainer = next((t for t in world.trainers if t.wallet.pubkey() == event.wallet), None)
    code = event.reason.code
    if trainer is not None:
        trainer.reward += event.reward
        trainer.verdicts[event.round] = (
            f"{event.score / 100:.0f}%" if event.verdict is Verdict.ACCEPTED else f"✗ {code}"
        )
    mark = {
        Verdict.ACCEPTED: f"[green]accepted[/green], {event.score / 100:.1f}% of the reward "
        f"({sol(event.reward)} SOL)",
        Verdict.EXCLUDED: f"[yellow]excluded ({code})[/yellow]: no reward, no slash",
        Verdict.SLASHED: f"[red]slashed ({code})[/red]: {sol(event.slashed)} SOL of stake",
    }[event.verdict]
    console.print(f"    {world.name_of(event.wallet):8s} {mark}")


# --- setting up -----------------------------------------------------------------------------------
def new_world(chain: ChainGateway, work: Path) -> World:
    federation = digits_shards(len(PARTICIPANTS) + 1, alpha=0.5, seed=7)
    task = TaskPackage.create(
        "digits",
        "8×8 handwritten digits, MLP",
        digits_mlp_spec(),
        TrainingConfig(epochs=5, batch_size=16, lr=0.05, optimizer="sgd", momentum=0.9),
        seed=1,
    )
    trainers = [Trainer(n, b, work / n) for n, b in PARTICIPANTS]
    return World(
        chain=chain,
        store=LocalStore(work / "store"),
        work=work,
        organization=Keypair(),
        operator=Keypair(),
        trainers=trainers,
        task=task,
        data=OperatorData(reference=federation.shards[0], validation=federation.test),
        shards=federation.shards[1:],
    )


async def open_pool(world: World) -> None:
    chain = world.chain
    for key in (world.organization.pubkey(), world.operator.pubkey()):
        await chain.airdrop(key, 20 * SOL)
    for t in world.trainers:
        await chain.airdrop(t.wallet.pubkey(), 2 * SOL)
    terms = organization.PoolTerms(
        reward_per_round=SOL,
        max_rounds=ROUNDS,
        min_stake=SOL // 10,
        max_participants=10,
        reward_policy=DEFAULT_REWARD_POLICY,
    )
    created = await organization.create_pool(
        chain,
        world.store,
        world.organization,
        world.task,
        terms,
        aggregator=world.operator.pubkey(),
    )
    world.pool = created.pool
    await organization.fund_pool(chain, world.organization, world.pool, terms.funding_needed)
    console.print(
        f"The organization stores the task package ([cyan]{created.task_cid}[/cyan]), opens pool "
        f"{world.pool} with the operator {str(world.operator.pubkey())[:8]}… as aggregator and "
        f"funds {ROUNDS} rounds × 1 SOL of rewards."
    )


async def start_when_everyone_joined(world: World) -> None:
    assert world.pool is not None
    while (await load_pool(world.chain, world.pool)).participant_count < len(world.trainers):
        await asyncio.sleep(0.1)
    await organization.start_training(world.chain, world.organization, world.pool)
    console.print(
        "Everyone joined: the organization starts training. Each agent now fetches the global "
        "model, trains on its own shard and commits to its update's hash; nobody uploads "
        "anything until everyone committed, so nobody can copy anyone."
    )


# --- the participants: tasks in this process, or `fedstake participate` processes -----------------
async def agents_in_process(world: World) -> list[asyncio.Task]:
    assert world.pool is not None
    tasks = []
    for t, shard in zip(world.trainers, world.shards, strict=True):
        config = AgentConfig(
            pool=world.pool,
            data=shard,
            data_dir=t.home / "agent",
            secrets_dir=t.secrets,
            stake=STAKE,
            payout_wallet=t.payout.pubkey(),
            behaviour=t.behaviour,
            seed=len(tasks) * 100,
            poll_interval=0.05,
        )
        agent = ParticipantAgent(world.chain, world.store, t.wallet, config)
        tasks.append(asyncio.create_task(agent.run(), name=f"agent {t.name}"))
    return tasks


class Processes:
    """Child processes, each logging to a file; all stopped on exit."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.running: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = open(self.work / f"{name}.log", "w")  # noqa: SIM115 (the child writes to it)
        process = subprocess.Popen(
            [sys.executable, "-m", *argv],
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        self.running.append((name, process))
        return process

    async def wait(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        for name, process in self.running:
            while process.poll() is None:
                if loop.time() > deadline:
                    raise TimeoutError(f"{name} still runs (log: {self.work / name}.log)")
                await asyncio.sleep(0.2)
            if process.returncode != 0:
                raise RuntimeError(
                    f"{name} exited {process.returncode}: see {self.work / name}.log"
                )

    def stop(self) -> None:
        for _, process in self.running:
            if process.poll() is None:
                process.terminate()
        for _, process in self.running:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def start_processes(world: World, procs: Processes, rpc_url: str, ws_url: str) -> None:
    """`fedstake operator run` and one `fedstake participate` per trainer."""
    assert world.pool is not None
    common = {"FEDSTAKE_STORE": f"local:{world.store.root}", "FEDSTAKE_WS_URL": ws_url}
    reference = save_npz(world.work / "operator" / "reference.npz", world.data.reference)  # type: ignore[arg-type]
    validation = save_npz(world.work / "operator" / "validation.npz", world.data.validation)  # type: ignore[arg-type]
    key = write_keypair(world.work / "operator" / "operator.json", world.operator, overwrite=True)
    procs.start(
        "operator",
        [
            "offchain.cli", "--url", rpc_url, "--keypair", str(key),
            "--home", str(world.work / "operator"),
            "operator", "run", "--pool", str(world.pool),
            "--reference-data", str(reference), "--validation-data", str(validation),
            "--poll", "0.2",
        ],
        common,
    )  # fmt: skip
    for i, (t, shard) in enumerate(zip(world.trainers, world.shards, strict=True)):
        data = save_npz(t.home / "data.npz", shard)
        wallet = write_keypair(t.home / "wallet.json", t.wallet, overwrite=True)
        procs.start(
            t.name,
            [
                "frontend_api.cli", "participate", str(world.pool), "--data", str(data),
                "--stake", str(STAKE / SOL), "--payout-wallet", str(t.payout.pubkey()),
                "--behaviour", t.behaviour.value, "--seed", str(100 * i), "--poll", "0.3",
                "--url", rpc_url, "--keypair", str(wallet), "--json",
            ],
            {**common, "FEDSTAKE_HOME": str(t.home)},
        )  # fmt: skip


# --- the payouts, over /ws/payout -----------------------------------------------------------------
async def reveal_payouts(world: World, ws_url: str) -> None:
    console.rule("payouts over /ws/payout")
    console.print(
        "Each participant reveals its payout wallet and salt to the API's relayer, which checks "
        "them against the on-chain commitment before paying any fee:"
    )
    assert world.pool is not None
    async with websockets.connect(ws_url + "/ws/payout") as socket:
        json.loads(await socket.recv())  # ready

        async def ask(frame: dict) -> dict:
            await socket.send(json.dumps(frame))
            return json.loads(await socket.recv())  # type: ignore[no-any-return]

        ana, mallory = world.trainers[0], world.trainers[4]
        theft = {
            "pool": str(world.pool),
            "participant": str(ana.wallet.pubkey()),
            "payout_wallet": str(mallory.payout.pubkey()),
            "salt": os.urandom(32).hex(),
        }
        answer = await ask(theft)
        console.print(
            f"    mallory  reveals ana's reward to its own wallet → [red]{answer['code']}[/red] "
            "(nothing sent, no fee spent)"
        )
        for t in world.trainers:
            secret = load_payout_secret(t.secrets, world.pool, t.wallet.pubkey())
            frame = {
                "pool": str(world.pool),
                "participant": str(t.wallet.pubkey()),
                "payout_wallet": str(secret.payout_wallet),
                "salt": secret.salt.hex(),
            }
            answer = await ask(frame)
            if answer["type"] == "claimed":
                t.paid = answer["amount"]
                console.print(
                    f"    {t.name:8s} → [green]claimed[/green] {sol(answer['amount'])} SOL to "
                    f"{str(secret.payout_wallet)[:8]}… (transaction {answer['signature'][:12]}…)"
                )
                if t is ana:
                    again = await ask(frame)
                    console.print(
                        f"    {t.name:8s} replays the reveal → [yellow]{again['code']}[/yellow]"
                    )
            elif answer["code"] == "unknown_participant" and t.reward == 0:
                console.print(
                    f"    {t.name:8s} → [yellow]{answer['code']}[/yellow]: it earned nothing, so "
                    "its account closed when it withdrew"
                )
            else:
                console.print(
                    f"    {t.name:8s} → [yellow]{answer['code']}[/yellow]: {answer['message']}"
                )


# --- the end --------------------------------------------------------------------------------------
async def settle(world: World) -> None:
    assert world.pool is not None
    table = Table(title=f"Outcome after {ROUNDS} rounds (rule: {world.task.aggregation.rule}; SOL)")
    table.add_column("participant")
    table.add_column("behaviour")
    for number in range(1, ROUNDS + 1):
        table.add_column(f"round {number}")
    table.add_column("earned", justify="right")
    table.add_column("paid out", justify="right")
    table.add_column("stake", justify="right")
    for t in world.trainers:
        state = await find_participant(world.chain, world.pool, t.wallet.pubkey())
        stake = "withdrawn" if state is None or state.stake == 0 else sol(state.stake)
        verdicts = [t.verdicts.get(n, "-") for n in range(1, ROUNDS + 1)]
        table.add_row(
            t.name,
            STORY[t.behaviour],
            *verdicts,
            sol(t.reward),
            sol(await world.chain.get_balance(t.payout.pubkey())),
            stake,
        )
    console.print(table)
    shown = [world.accuracy[n] for n in sorted(world.accuracy)]
    console.print("Test accuracy by round: " + " → ".join(f"{a:.1%}" for a in shown))
    final = await load_pool(world.chain, world.pool)
    console.print(
        f"Pool {final.status}: {sol(final.total_paid)} SOL paid, {sol(final.total_slashed)} SOL "
        "slashed into the pool's reward balance."
    )
    with contextlib.suppress(FedstakeError):
        reclaimed = await exits.reclaim_funding(world.chain, world.operator, world.pool)
        console.print(
            f"Anyone may send the organization what nobody is owed: {sol(reclaimed.amount)} SOL "
            "went back to it."
        )


async def wait_for_ctrl_c(url: str) -> None:
    interactive = sys.stdin.isatty() and os.environ.get("CI", "").lower() not in ("1", "true")
    if not interactive:
        console.print(f"Dashboard was at {url}/ (not a terminal, or CI=true: exiting).")
        return
    console.print(f"[bold]Dashboard: {url}/[/bold] — serving until Ctrl-C.")
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.Event().wait()


# --- the two ways to run it -----------------------------------------------------------------------
@contextlib.asynccontextmanager
async def serving(settings: ApiSettings) -> AsyncIterator[tuple[str, object]]:
    app = create_app(settings)
    async with running_server(app, settings, log_level="warning") as url:
        yield url, app.state.runtime


def api_settings(port: int, **fields: object) -> ApiSettings:
    """Settings on `port`, or on any free port when that one is taken."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            port = 0
    return ApiSettings(port=port, **fields)  # type: ignore[arg-type]


async def embedded(port: int, work: Path) -> None:
    chain = EmbeddedGateway()
    world = new_world(chain, work)
    console.rule("[bold]fedstake demo: the whole system in one process, on the embedded chain")
    service = ServiceSettings(
        work / "operator",
        organization=world.organization.pubkey(),
        operator_data=world.data,
        poll=0.05,
        discover=0.2,
    )
    hook = in_process(world.store, world.operator, service)
    async with serving(api_settings(port, chain=chain, operator=hook)) as (url, runtime):
        console.print(f"API and dashboard: [bold]{url}/[/bold] (operator runtime in process)")
        story = asyncio.create_task(tell(world, runtime.bus))  # type: ignore[attr-defined]
        try:
            await open_pool(world)
            agents = await agents_in_process(world)
            await start_when_everyone_joined(world)
            await asyncio.wait_for(asyncio.gather(*agents), 300)
            await asyncio.wait_for(world.finished.wait(), 30)
            console.rule("the pool finished")
            console.print(
                "Each agent withdrew its stake (plus rent); the rewards wait, unlinked from the "
                "trainers, until someone reveals where they go."
            )
            await reveal_payouts(world, "ws" + url.removeprefix("http"))
            await asyncio.sleep(0.1)  # the RewardClaimed lines
            await settle(world)
        finally:
            story.cancel()
        await wait_for_ctrl_c(url)


async def localnet(port: int, work: Path) -> None:
    from client_kit.idl import load_idl
    from scripts.validator.launcher import start_validator

    program_id = load_idl().address  # the id the compiled program is built for

    console.rule("[bold]fedstake demo on Surfpool: operator and agents as separate processes")
    rpc_url, ws_url, stop = start_validator(
        ROOT / "target/deploy/fedstake.so", str(program_id), workdir=work / "surfpool"
    )
    procs = Processes(work)
    chain = RpcGateway(rpc_url, ws_url, program_id=program_id)
    try:
        world = new_world(chain, work)
        world.operator_in_process = False
        console.print(f"Surfpool at {rpc_url}; logs of every process in {work}.")
        await open_pool(world)
        relayer = write_keypair(work / "relayer.json", world.operator, overwrite=True)
        settings = api_settings(port, url=rpc_url, ws_url=ws_url, relayer_keypair=str(relayer))
        async with serving(settings) as (url, runtime):
            console.print(f"API and dashboard: [bold]{url}/[/bold] (follows Surfpool over RPC)")
            story = asyncio.create_task(tell(world, runtime.bus))  # type: ignore[attr-defined]
            try:
                start_processes(world, procs, rpc_url, ws_url)
                console.print(
                    f"Started `fedstake operator run` and {len(world.trainers)} "
                    "`fedstake participate` processes."
                )
                await start_when_everyone_joined(world)
                await procs.wait(600)
                await asyncio.wait_for(world.finished.wait(), 60)
                console.rule("the pool finished")
                await reveal_payouts(world, "ws" + url.removeprefix("http"))
                await asyncio.sleep(2)  # the watcher reads sealed slots
                await settle(world)
            finally:
                story.cancel()
            await wait_for_ctrl_c(url)
    finally:
        procs.stop()
        await chain.close()
        stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="embedded", help="embedded (default) or localnet")
    parser.add_argument("--port", type=int, default=int(os.environ.get("DEMO_PORT", "8000")))
    args = parser.parse_args(argv)
    if args.url not in ("embedded", "localnet"):
        parser.error("--url must be embedded or localnet")
    work = Path(tempfile.mkdtemp(prefix="fedstake-demo-"))
    run = embedded if args.url == "embedded" else localnet
    try:
        asyncio.run(run(args.port, work))
    except KeyboardInterrupt:
        console.print("stopped.")
    finally:
        if args.url == "embedded":  # localnet keeps its processes' logs
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
