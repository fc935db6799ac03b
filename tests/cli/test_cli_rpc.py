"""The same CLI against the rpc backend: a real Surfpool validator, one
subprocess per command, `--url` given after the subcommand."""

from __future__ import annotations

from pathlib import Path

import pytest
from solders.keypair import Keypair

from client_kit.keys import load_keypair, write_keypair
from tests.cli.runner import Cli
from tests.conftest import Surfnet
from tests.pools import tiny_task

pytestmark = [pytest.mark.validator, pytest.mark.timeout(300)]


def test_pool_commands_run_against_a_local_validator(surfnet: Surfnet, tmp_path: Path) -> None:
    cli = Cli(tmp_path / "home", url=surfnet.rpc_url)
    org = write_keypair(tmp_path / "org.json", Keypair())
    alice = write_keypair(tmp_path / "alice.json", Keypair())
    for key in (org, alice):
        assert cli.ok(key, "airdrop", "3")["balance"] == "3 SOL"
    task = tmp_path / "task.bin"
    task.write_bytes(tiny_task().to_bytes())
    created = cli.ok(org, "pool", "create", "--task", str(task), "--max-rounds", "1")
    pool = created["pool"]
    assert created["pool_id"] == 1
    assert cli.ok(org, "pool", "create", "--task", str(task))["pool_id"] == 2
    cli.ok(org, "pool", "fund", pool, "1")
    cli.ok(alice, "join", pool, "--stake", "0.5")
    cli.fails(alice, "pool", "start", pool, match="Unauthorized")
    cli.ok(org, "pool", "start", pool)
    shown = cli.ok(None, "pool", "show", pool)
    assert (shown["status"], shown["round"], shown["participant_count"]) == ("Training", 1, 1)
    status = cli.ok(alice, "status", pool)
    assert status["wallet"] == str(load_keypair(alice).pubkey()) and status["stake"] == "0.5 SOL"
    listed = cli.ok(None, "pool", "list", "--organization", str(load_keypair(org).pubkey()))
    assert sorted(row["pool_id"] for row in listed) == [1, 2]
    cli.fails(alice, "withdraw", pool, match="InvalidPoolStatus")
