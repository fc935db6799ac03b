"""`fedstake operator run` as a separate OS process against Surfpool: killed
with SIGKILL at each step of a round and restarted, the round completes, every
submission is judged exactly once, and the global model is the one an
uninterrupted run records. SIGTERM stops it gracefully; `operator status`
prints its snapshot; its JSON-lines logs parse.

Surfpool rather than the embedded chain: the chain must outlive the killed
process, and a real validator does (an embedded chain in another process
would need its state file written after every transaction by everyone).
The test process plays the organization and the participants through
`client_kit.actions`; the fault-injection point is `FEDSTAKE_FAULT`
(`offchain.faults`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from client_kit.enums import PoolStatus, RewardPolicy
from client_kit.events import SubmissionJudged, events_from_logs
from client_kit.gateway.rpc import RpcGateway
from client_kit.keys import write_keypair
from client_kit.training.data import save_npz
from offchain.aggregator import gather_round
from offchain.judging import RoundDecision, decide_round
from offchain.reference import OperatorData
from tests.conftest import PROGRAM_ID, Surfnet
from tests.offchain.test_coordinator import _update, tiny_data
from tests.pools import SOL, PoolScenario, tiny_task

pytestmark = pytest.mark.validator
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def chain(surfnet: Surfnet) -> AsyncIterator[RpcGateway]:
    gateway = RpcGateway(surfnet.rpc_url, surfnet.ws_url, program_id=PROGRAM_ID)
    try:
        yield gateway
    finally:
        await gateway.close()


class OperatorProcess:
    """`fedstake operator run --pool P` in its own process, logging JSON lines to a file."""

    def __init__(self, tmp: Path, net: Surfnet, world: PoolScenario, reference: Path) -> None:
        self.tmp, self.net, self.world, self.reference = tmp, net, world, reference
        self.keypair = write_keypair(tmp / "aggregator.json", world.aggregator, overwrite=True)
        self.data = tmp / "operator"
        self.runs = 0

    def start(self, fault: str | None = None, *, pool: bool = True) -> subprocess.Popen:
        self.runs += 1
        env = {**os.environ, "FEDSTAKE_STORE": f"local:{self.world.store_dir}"}
        env.pop("FEDSTAKE_FAULT", None)
        if fault:
            env["FEDSTAKE_FAULT"] = fault
        args = [
            sys.executable, "-m", "offchain.cli",
            "--url", self.net.rpc_url, "--keypair", str(self.keypair), "--home", str(self.tmp),
            "operator", "run", "--data", str(self.data), "--reference-data", str(self.reference),
            "--poll", "0.2", "--log-format", "json",
        ]  # fmt: skip
        if pool:
            args += ["--pool", str(self.world.key)]
        else:
            args += ["--organization", str(self.world.organization.pubkey()), "--discover", "0.5"]
        log = open(self.tmp / f"operator-{self.runs}.log", "w")  # noqa: SIM115
        return subprocess.Popen(
            args, cwd=ROOT, env={**env, "FEDSTAKE_WS_URL": self.net.ws_url},
            stdout=log, stderr=log,
        )  # fmt: skip

    def logs(self) -> list[dict]:
        lines = []
        for n in range(1, self.runs + 1):
            for line in (self.tmp / f"operator-{n}.log").read_text().splitlines():
                if line.startswith("{"):
                    lines.append(json.loads(line))
        return lines


async def _revealed_round(tmp: Path, chain: RpcGateway) -> tuple[PoolScenario, Path, RoundDecision]:
    """A one-round trusted_mean pool (contribution policy) whose four trainers have
    all committed and revealed; the reference file; what an uninterrupted operator
    would decide."""
    world = PoolScenario(chain, tmp / "store", task=tiny_task("trusted_mean"))
    await world.setup()
    await world.create(max_participants=4, max_rounds=1, reward_policy=RewardPolicy.CONTRIBUTION)
    await world.fund(SOL)
    for _ in range(4):
        await world.join(await world.new_trainer())
    await world.start()
    for trainer in world.trainers:
        await world.submit(trainer, _update(world, trainer, 1))
    for trainer in world.trainers:
        await world.reveal(trainer)
    reference = save_npz(tmp / "reference.npz", tiny_data(5))
    data = OperatorData(reference=reference)
    expected = decide_round(
        await gather_round(chain, world.store, world.key, reference=data.reference_update)
    )
    return world, reference, expected


async def _judged_on_chain(chain: RpcGateway, pool) -> Counter:  # type: ignore[no-untyped-def]
    """SubmissionJudged events of `pool` in the program's whole history, by wallet."""
    counts: Counter = Counter()
    before = None
    while True:
        page = await chain.program_signatures(before=before, limit=1000)
        for record in page:
            landed = await chain.fetch_transaction(record.signature)
            assert landed is not None
            for event in events_from_logs(landed.logs):
                if isinstance(event, SubmissionJudged) and event.pool == pool:
                    counts[str(event.wallet)] += 1
        if len(page) < 1000:
            return counts
        before = page[-1].signature


def _wait(process: subprocess.Popen, timeout: float = 180) -> int:
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        raise


FAULTS = ["after_fetch", "after_verdict:2", "after_store", "before_finalize", None]


@pytest.mark.parametrize("fault", FAULTS, ids=[f or "uninterrupted" for f in FAULTS])
async def test_kill_9_at_each_step_then_restart(
    tmp_path, surfnet: Surfnet, chain: RpcGateway, fault: str | None
) -> None:
    # Given a revealed round and what an uninterrupted operator records
    world, reference, expected = await _revealed_round(tmp_path, chain)
    operator = OperatorProcess(tmp_path, surfnet, world, reference)
    if fault is not None:
        # When the operator process is SIGKILLed at the fault point
        assert _wait(operator.start(fault)) == -signal.SIGKILL
        state = await world.round_state(1)
        assert not state.finalized
    # and started again (or, uninterrupted, run once): it exits once the pool ended
    assert _wait(operator.start()) == 0, (tmp_path / f"operator-{operator.runs}.log").read_text()
    # Then the round is finalized with the uninterrupted run's global model
    state = await world.round_state(1)
    assert state.finalized and state.global_model_hash == expected.global_hash
    assert (await world.pool_state()).status is PoolStatus.FINISHED
    # and each submission was judged exactly once, with the decided verdict
    counts = await _judged_on_chain(chain, world.key)
    assert sorted(counts.values()) == [1, 1, 1, 1]
    for j in expected.judged:
        sub = await world.submission_state(
            next(t for t in world.trainers if t.wallet.pubkey() == j.wallet)
        )
        assert (sub.verdict, sub.reason, sub.score) == (j.verdict, j.reason, j.score_bps)
    sent = Counter(e["wallet"] for e in operator.logs() if e.get("message") == "verdict sent")
    found = Counter(
        e["wallet"] for e in operator.logs() if e.get("message") == "verdict found on chain"
    )
    assert all(n == 1 for n in sent.values()) and sum(sent.values()) + sum(found.values()) >= 4
    assert set(sent) | set(found) == {str(j.wallet) for j in expected.judged}


async def test_sigterm_stops_gracefully_and_status_shows_the_pools(
    tmp_path, surfnet: Surfnet, chain: RpcGateway
) -> None:
    # Given an operator following an organization whose pool waits for commitments
    world = PoolScenario(chain, tmp_path / "store", task=tiny_task())
    await world.setup()
    await world.create(max_participants=2, max_rounds=2)
    await world.fund(2 * SOL)
    await world.join(await world.new_trainer())
    await world.start()
    reference = save_npz(tmp_path / "reference.npz", tiny_data(5))
    operator = OperatorProcess(tmp_path, surfnet, world, reference)
    process = operator.start(pool=False)
    status_file = operator.data / "status.json"
    deadline = time.monotonic() + 120
    while not (status_file.exists() and json.loads(status_file.read_text() or "{}").get("pools")):
        assert process.poll() is None, (tmp_path / "operator-1.log").read_text()
        assert time.monotonic() < deadline
        time.sleep(0.2)
    # When `operator status` is asked
    shown = subprocess.run(
        [sys.executable, "-m", "offchain.cli", "--home", str(tmp_path), "--json",
         "operator", "status", "--data", str(operator.data)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    # Then it shows the running operator and the pool in its submission phase
    assert shown.returncode == 0, shown.stderr
    status = json.loads(shown.stdout)
    assert status["alive"] and status["running"]
    assert [(p["pool"], p["phase"]) for p in status["pools"]] == [(str(world.key), "submission")]
    # When SIGTERM arrives, Then it stops by itself with exit code 0 and says so
    process.send_signal(signal.SIGTERM)
    assert _wait(process, 60) == 0
    assert not json.loads(status_file.read_text())["running"]
    messages = [e["message"] for e in operator.logs()]
    assert "following pool" in messages and "operator stopped" in messages
    assert all({"time", "level", "logger", "message"} <= set(e) for e in operator.logs())
