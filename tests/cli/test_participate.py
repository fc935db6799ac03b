"""`fedstake participate` as users run it: a subprocess on the embedded chain's
state file. The embedded chain lives in one process, so only `--once` (do
what can be done now, then exit) runs there; the agent that waits for the
operator runs against Surfpool (tests/offchain/test_agent_validator.py).
Bad input is one line on stderr, exit 1, and the chain unchanged."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from solders.keypair import Keypair

from client_kit.keys import write_keypair
from tests.agents import tiny_data_file
from tests.cli.runner import Cli
from tests.pools import SOL, PoolScenario, tiny_task


@dataclass
class World:
    cli: Cli
    pool: str
    keypair: Path  # a funded participant that has not joined
    data: Path  # its local data
    organization: Path  # the pool's organization


@pytest.fixture
def world(tmp_path: Path) -> World:
    """An Open, funded pool of the tiny task on the CLI's embedded chain, a
    funded participant keypair file and a data file for it."""
    cli = Cli(tmp_path / "home")
    chain = cli.chain()
    scenario = PoolScenario(chain, cli.home / "store", task=tiny_task())
    wallet = Keypair()

    async def make() -> None:
        await scenario.setup()
        await scenario.create(max_participants=3)
        await scenario.fund(SOL)
        await chain.airdrop(wallet.pubkey(), 2 * SOL)

    asyncio.run(make())
    cli.save(chain)
    return World(
        cli,
        str(scenario.key),
        write_keypair(tmp_path / "alice.json", wallet),
        tiny_data_file(tmp_path, 1),
        write_keypair(tmp_path / "org.json", scenario.organization),
    )


def _lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_once_joins_then_says_what_it_waits_for(world) -> None:
    cli, pool, keypair, data = world.cli, world.pool, world.keypair, world.data
    done = cli.run(keypair, "participate", pool, "--data", str(data), "--stake", "0.5", "--once")
    assert done.returncode == 0, done.stderr
    lines = _lines(done.stdout)
    assert [line["event"] for line in lines] == ["joined", "waiting"]
    assert lines[0]["stake_lamports"] == SOL // 2 and lines[0]["pool"] == pool
    assert lines[1]["for"] == "waiting for the organization to start training"
    # the join was saved with the chain; a second run has nothing to send
    again = cli.run(keypair, "participate", pool, "--data", str(data), "--once")
    assert again.returncode == 0, again.stderr
    assert [line["event"] for line in _lines(again.stdout)] == ["waiting"]


def test_human_output_is_lines(world) -> None:
    cli, pool, keypair, data = world.cli, world.pool, world.keypair, world.data
    args = ["participate", pool, "--data", str(data), "--stake", "0.25", "--once"]
    done = cli.run(keypair, *args, as_json=False)
    assert done.returncode == 0, done.stderr
    assert "joined with a stake of 0.25 SOL; payout secret saved to" in done.stdout
    assert "waiting for the organization to start training" in done.stdout


UNKNOWN_POOL = "11111111111111111111111111111112"


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        ([UNKNOWN_POOL, "--data", "{data}", "--stake", "0.5", "--once"], "no fedstake pool at"),
        (["{pool}", "--data", "{dir}/missing.npz", "--stake", "0.5", "--once"], "no data file at"),
        (["{pool}", "--data", "{dir}/corrupt.npz", "--stake", "0.5", "--once"], "not a readable"),
        (["{pool}", "--data", "{dir}/wide.csv", "--stake", "0.5", "--once"], "model needs [3]"),
        (["{pool}", "--data", "{data}", "--stake", "0.01", "--once"], "below the pool's minimum"),
        (["{pool}", "--data", "{data}", "--once"], "give a stake to join"),
        (["{pool}", "--data", "{data}", "--stake", "0.5"], "lives in this process only"),
        (["{pool}", "--data", "{data}", "--behaviour", "evil", "--once"], "unknown behaviour"),
        (["{pool}", "--data", "{data}", "--payout-wallet", "x", "--once"], "not a base58"),
        (["not-a-key", "--data", "{data}", "--once"], "pool 'not-a-key' is not a base58"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(world, tmp_path, argv, match) -> None:
    cli, pool, keypair, data = world.cli, world.pool, world.keypair, world.data
    (tmp_path / "corrupt.npz").write_bytes(b"PK\x03\x04 not a zip archive")
    (tmp_path / "wide.csv").write_text("1,2,3,4,5,0\n6,7,8,9,10,1\n")
    filled = [a.format(pool=pool, data=data, dir=tmp_path) for a in argv]
    cli.fails(keypair, "participate", *filled, match=match)


def test_a_pool_that_started_without_you_is_refused(world: World, tmp_path: Path) -> None:
    # Given a pool another participant joined and the organization started
    cli = world.cli
    chain = cli.chain()
    bob = Keypair()
    asyncio.run(chain.airdrop(bob.pubkey(), SOL))
    cli.save(chain)
    cli.ok(write_keypair(tmp_path / "bob.json", bob), "join", world.pool, "--stake", "0.5")
    cli.ok(world.organization, "pool", "start", world.pool)
    # When a wallet that never joined runs the agent, Then it is told, and nothing changes
    args = [world.pool, "--data", str(world.data), "--stake", "0.5", "--once"]
    cli.fails(
        world.keypair, "participate", *args, match="joining is possible only while it is Open"
    )


def test_settings_come_from_fedstake_variables(world: World) -> None:
    cli = world.cli
    cli.env.update({"FEDSTAKE_DATA": str(world.data), "FEDSTAKE_STAKE": "0.3"})
    done = cli.run(world.keypair, "participate", world.pool, "--once")
    assert done.returncode == 0, done.stderr
    assert _lines(done.stdout)[0]["stake_lamports"] == 300_000_000
