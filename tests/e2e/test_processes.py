"""The end-to-end scenario (tests/e2e/scenario.py) as separate OS processes on
a real validator: Surfpool, one `fedstake operator run --pool P` process, and
five `fedstake participate` processes (two honest, a sign-flipping attacker, a
tampering attacker, a free-rider). The organization types the `fedstake`
commands of docs/OPERATOR.md ("A pool end to end, by hand"): `task init`,
`pool create`, `pool fund`, `pool start`; afterwards the operator relays one
honest participant's payout reveal (`operator relay-claim`) and anyone runs
`verify-round` for every round.

The store every process shares is a real kubo node on loopback
(`ipfs:<api url>`, scripts/ipfs/node.py) when kubo can be built here, else
one local store folder (`local:<dir>`); the test prints which.
The test process only airdrops SOL, reads the chain and watches the lines
the processes print. Every process is SIGKILLed in `finally`.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client_kit.actions.reads import load_pool
from client_kit.gateway.rpc import RpcGateway
from client_kit.keys import write_keypair
from client_kit.training.data import save_npz
from tests.agents import tiny_data, tiny_data_file, wait_for
from tests.conftest import PROGRAM_ID, Surfnet
from tests.e2e.scenario import (
    CAST,
    REFERENCE_SEED,
    ROUNDS,
    SLASH_BPS,
    STAKE,
    TASK_INIT_ARGS,
    Played,
    check_outcome,
)
from tests.pools import SOL
from tests.processes import FedstakeProcess, run_fedstake

pytestmark = [pytest.mark.validator, pytest.mark.timeout(420)]


async def test_a_pool_runs_to_the_end_as_separate_processes(
    surfnet: Surfnet, shared_store: str, tmp_path: Path
) -> None:
    chain = RpcGateway(surfnet.rpc_url, surfnet.ws_url, program_id=PROGRAM_ID)
    processes: list[FedstakeProcess] = []
    t0 = time.monotonic()
    try:
        await _scenario(chain, surfnet, shared_store, tmp_path, processes)
    finally:
        for process in processes:
            process.kill()
        await chain.close()
    print(f"e2e on Surfpool with store {shared_store.split(':')[0]}: {time.monotonic() - t0:.1f} s")


def _ok(done, what: str):  # type: ignore[no-untyped-def]
    assert done.returncode == 0, f"{what}: exit {done.returncode}\n{done.stderr[-3000:]}"
    return json.loads(done.stdout) if done.stdout.strip().startswith("{") else done.stdout


async def _scenario(
    chain: RpcGateway,
    surfnet: Surfnet,
    store: str,
    tmp: Path,
    processes: list[FedstakeProcess],
) -> None:
    # Given keys for the organization, its aggregator and five participants,
    # each with SOL (what `fedstake airdrop` does on a local validator)
    organization, aggregator = Keypair(), Keypair()
    wallets = {m.name: Keypair() for m in CAST}
    payouts = {m.name: Keypair().pubkey() for m in CAST}
    for key, sol in [(organization, 10), (aggregator, 2), *((w, 2) for w in wallets.values())]:
        await chain.airdrop(key.pubkey(), sol * SOL)
    base_env = {
        **os.environ,
        "FEDSTAKE_URL": surfnet.rpc_url,
        "FEDSTAKE_WS_URL": surfnet.ws_url,
        "FEDSTAKE_STORE": store,
    }
    base_env.pop("FEDSTAKE_FAULT", None)

    def env_of(name: str, key: Keypair) -> dict[str, str]:
        keypair = write_keypair(tmp / f"{name}.json", key)
        return {**base_env, "FEDSTAKE_HOME": str(tmp / name), "FEDSTAKE_KEYPAIR": str(keypair)}

    org_env, op_env = env_of("organization", organization), env_of("operator", aggregator)

    # When the organization writes the task and creates and funds the pool
    task = tmp / "task.bin"
    _ok(
        run_fedstake(
            ["task", "init", *TASK_INIT_ARGS, "--out", str(task)],
            org_env,
        ),
        "task init",
    )  # fmt: skip
    created = _ok(
        run_fedstake(
            ["--json", "pool", "create", "--task", str(task),
             "--aggregator", str(aggregator.pubkey()), "--max-rounds", str(ROUNDS),
             "--max-participants", str(len(CAST)), "--reward-per-round", "1",
             "--slash-bps", str(SLASH_BPS), "--round-duration", "300",
             "--reveal-duration", "300"],
            org_env,
        ),
        "pool create",
    )  # fmt: skip
    assert created["reward_policy"] == "Contribution"  # the client's default
    pool = created["pool"]
    _ok(run_fedstake(["pool", "fund", pool, str(ROUNDS)], org_env), "pool fund")

    # and the operator and the five agents start, each in its own process
    reference = save_npz(tmp / "reference.npz", tiny_data(REFERENCE_SEED))
    operator = FedstakeProcess(
        "operator",
        ["--home", str(tmp / "operator"), "operator", "run", "--pool", pool,
         "--reference-data", str(reference), "--poll", "0.2", "--log-format", "json"],
        op_env,
        key="message",
    )  # fmt: skip
    processes.append(operator)
    operator.start()
    agents: dict[str, FedstakeProcess] = {}
    for member in CAST:
        args = ["--json", "participate", pool, "--data", str(tiny_data_file(tmp, member.seed)),
                "--stake", str(STAKE / SOL), "--payout-wallet", str(payouts[member.name]),
                "--behaviour", member.behaviour.value, "--seed", str(member.seed),
                "--poll", "0.2"]  # fmt: skip
        if member.claim_by == "agent":
            args.append("--claim")
        env = env_of(member.name, wallets[member.name])
        agents[member.name] = FedstakeProcess(member.name, args, env)
        processes.append(agents[member.name])
        agents[member.name].start()

    async def everyone_joined() -> bool:
        return (await load_pool(chain, Pubkey.from_string(pool))).participant_count == len(CAST)

    await wait_for(everyone_joined, timeout=120, poll=0.2)
    # and the organization starts training
    _ok(run_fedstake(["pool", "start", pool], org_env), "pool start")

    # Then every agent and the operator end by themselves, exit code 0
    for agent in agents.values():
        code = await agent.exit_code(240)
        assert code == 0, (agent.name, agent.tail(), agent.lines[-5:])
    assert await operator.exit_code(60) == 0, operator.tail()
    logs = [json.loads(line) for line in operator.stderr if line.startswith("{")]
    assert "every pool ended" in [e["message"] for e in logs]

    # When the operator relays ben's payout reveal, and fred's (having earned
    # nothing, fred's agent withdrew and closed its account: refused by name)
    ben = CAST[1]
    assert ben.claim_by == "relayer"
    relay = ["--json", "operator", "relay-claim", pool]
    relayed = _ok(
        run_fedstake([*relay, str(wallets[ben.name].pubkey()),
                      "--secrets-dir", str(tmp / ben.name / "secrets")], op_env),
        "relay-claim ben",
    )  # fmt: skip
    assert relayed["payout_wallet"] == str(payouts[ben.name]) and relayed["paid_lamports"] > 0
    refused = run_fedstake(
        [*relay, str(wallets["fred"].pubkey()), "--secrets-dir", str(tmp / "fred" / "secrets")],
        op_env,
    )
    assert refused.returncode == 1 and "is not a participant of" in refused.stderr, refused.stderr

    # Then everything the rules say holds
    played = [Played(m, wallets[m.name].pubkey(), payouts[m.name], agents[m.name].of) for m in CAST]
    await check_outcome(chain, Pubkey.from_string(pool), played)
    # and anyone (a fresh home, no key of the pool's) verifies every round: exit 0
    checker = {**base_env, "FEDSTAKE_HOME": str(tmp / "checker")}
    checks = await asyncio.gather(
        *(
            asyncio.to_thread(run_fedstake, ["verify-round", pool, str(n)], checker)
            for n in range(1, ROUNDS + 1)
        )
    )
    for number, done in enumerate(checks, 1):
        assert done.returncode == 0, (number, done.stdout, done.stderr)
