"""`fedstake participate` as real processes against a real validator (Surfpool):
three agents follow a two-round pool while the test plays the operator
(judging each round once its reveal phase is over). One agent is stopped
with SIGTERM while it waits, one is killed with SIGKILL right after its
first commitment landed; both are restarted with the same command and the
pool still finishes with one commitment per agent and round."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client_kit.actions.reads import find_submission
from client_kit.enums import PoolStatus
from client_kit.gateway.rpc import RpcGateway
from client_kit.keys import write_keypair
from tests.agents import RoundJudge, tiny_data_file, wait_for
from tests.conftest import PROGRAM_ID, Surfnet
from tests.pools import SOL, PoolScenario, tiny_task

pytestmark = [pytest.mark.validator, pytest.mark.timeout(420)]
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class AgentProcess:
    """One `fedstake participate` process (restartable), its JSON lines collected."""

    name: str
    argv: list[str]
    env: dict[str, str]
    lines: list[dict] = field(default_factory=list)
    runs: list[subprocess.Popen] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)

    def start(self) -> None:
        proc = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.runs.append(proc)
        threading.Thread(target=self._read, args=(proc,), daemon=True).start()

    def _read(self, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None and proc.stderr is not None
        for line in proc.stdout:
            self.lines.append({**json.loads(line), "run": len(self.runs)})
        self.stderr.append(proc.stderr.read())

    def of(self, kind: str) -> list[dict]:
        return [line for line in self.lines if line["event"] == kind]

    async def said(self, kind: str, count: int = 1) -> list[dict]:
        async def enough() -> list[dict] | None:
            found = self.of(kind)
            return found if len(found) >= count else None

        return await wait_for(enough, timeout=180, poll=0.1)

    async def exit_code(self, timeout: float = 240) -> int:
        return await asyncio.wait_for(asyncio.to_thread(self.runs[-1].wait), timeout)


async def test_agents_as_processes_finish_a_pool_through_kill_and_stop(
    surfnet: Surfnet, tmp_path: Path
) -> None:
    chain = RpcGateway(surfnet.rpc_url, surfnet.ws_url, program_id=PROGRAM_ID)
    try:
        await _scenario(chain, surfnet, tmp_path)
    finally:
        await chain.close()


async def _scenario(chain: RpcGateway, surfnet: Surfnet, tmp_path: Path) -> None:
    # Given a funded Open pool of two rounds, with a store the agents share
    store = tmp_path / "store"
    # Eight parameters and one local epoch: an honest agent's consecutive updates
    # reach cos 0.9999997 with each other (measured), inside the default 1e-6
    # tolerance for an unchanged resend, so the pool sets a smaller one
    # (offchain.aggregation.prefilter says such tasks must).
    world = PoolScenario(chain, store, task=tiny_task("trusted_mean", replay_tolerance=1e-9))
    await world.setup()
    await world.create(max_participants=3, max_rounds=2, round_duration=300, reveal_duration=300)
    await world.fund(2 * SOL)
    payouts: dict[str, Pubkey] = {}
    wallets: dict[str, Pubkey] = {}
    agents: dict[str, AgentProcess] = {}
    for i, (name, behaviour) in enumerate(
        [("ana", "honest"), ("ben", "honest"), ("fred", "free-rider")]
    ):
        wallet, payouts[name] = Keypair(), Keypair().pubkey()
        wallets[name] = wallet.pubkey()
        await chain.airdrop(wallet.pubkey(), 2 * SOL)
        keypair = write_keypair(tmp_path / f"{name}.json", wallet)
        argv = [sys.executable, "-m", "offchain.cli", "participate", str(world.key)]
        argv += ["--data", str(tiny_data_file(tmp_path, i)), "--stake", "0.5", "--claim"]
        argv += ["--payout-wallet", str(payouts[name]), "--behaviour", behaviour]
        argv += ["--poll", "0.3", "--json", "--url", surfnet.rpc_url, "--keypair", str(keypair)]
        env = {**os.environ, "FEDSTAKE_HOME": str(tmp_path / name), "FEDSTAKE_STORE": str(store)}
        agents[name] = AgentProcess(name, argv, env)
        agents[name].start()
    ben, fred = agents["ben"], agents["fred"]
    for agent in agents.values():
        await agent.said("joined")

    # When fred is stopped with SIGTERM while it waits for training, and restarted
    fred.runs[-1].send_signal(signal.SIGTERM)
    assert await fred.exit_code(60) == 0, fred.stderr
    assert fred.lines[-1]["event"] == "stopped" and fred.lines[-1]["why"] == "SIGTERM"
    fred.start()
    await world.start()
    judge = RoundJudge(chain, world.store, world.aggregator, world.key, world.task, poll=0.3)
    judging = asyncio.create_task(judge.run())
    # and ben is killed (SIGKILL) right after its first commitment landed, then restarted
    committed = (await ben.said("committed"))[0]
    ben.runs[-1].kill()
    assert await ben.exit_code(60) == -signal.SIGKILL
    ben.start()

    # Then every agent finishes with the pool, exit code 0
    for agent in agents.values():
        assert await agent.exit_code() == 0, (agent.name, agent.stderr, agent.lines[-5:])
    await asyncio.wait_for(judging, 60)
    assert (await world.pool_state()).status is PoolStatus.FINISHED
    # ben's restart sent no second commitment and revealed what it had committed
    assert committed["round"] == 1 and committed["run"] == 1
    assert [(c["round"], c["run"]) for c in ben.of("committed")] == [(1, 1), (2, 2)]
    submission = await find_submission(chain, world.key, 1, wallets["ben"])
    assert submission is not None and submission.update_hash.hex() == committed["update_hash"]
    for agent in agents.values():
        assert agent.of("refused") == [], agent.name
        verdicts = [(v["round"], v["verdict"], v["reason"]) for v in agent.of("verdict")]
        if agent is fred:
            assert verdicts == [(1, "Excluded", "free_rider"), (2, "Excluded", "free_rider")]
            assert agent.of("claimed") == []
        else:
            assert verdicts == [(1, "Accepted", "ok"), (2, "Accepted", "ok")], agent.name
            paid = agent.of("claimed")[0]["paid_lamports"]
            assert paid == SOL and await chain.get_balance(payouts[agent.name]) == SOL
        assert [w["closed"] for w in agent.of("withdrawn")] == [True]
        assert agent.lines[-1]["event"] == "ended" and agent.lines[-1]["status"] == "Finished"
