"""The `fedstake` CLI as users run it: a subprocess per command, embedded chain
kept in a state file between calls. Judging/finalizing happen through the
Python API with the aggregator key, on the same state file."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client_kit.accounts import Participant, Pool, decode_account
from client_kit.canonical import encode_tensors, tensors_hash
from client_kit.gateway.embedded import EmbeddedGateway
from client_kit.instructions import FedstakeInstructions
from client_kit.keys import write_keypair
from client_kit.protocol import Verdict

SOL = 1_000_000_000


class Cli:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = {**os.environ, "FEDSTAKE_HOME": str(home), "FEDSTAKE_URL": "embedded"}

    def run(self, keypair: Path | None, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "client_kit.cli.main", "--json"]
        if keypair is not None:
            cmd += ["--keypair", str(keypair)]
        return subprocess.run(
            cmd + list(args), env=self.env, capture_output=True, text=True, timeout=60
        )

    def ok(self, keypair: Path | None, *args: str) -> dict:
        done = self.run(keypair, *args)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def fails(self, keypair: Path | None, *args: str, match: str) -> str:
        state = self.state_bytes()
        done = self.run(keypair, *args)
        assert done.returncode == 1, (done.stdout, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
        assert match in lines[0], lines[0]
        assert self.state_bytes() == state, "a failed command changed the chain"
        return lines[0]

    def state_bytes(self) -> bytes:
        path = self.home / "embedded-state.json"
        return path.read_bytes() if path.exists() else b""

    def chain(self) -> EmbeddedGateway:
        chain = EmbeddedGateway()
        chain.load_state(self.home / "embedded-state.json")
        return chain

    def save(self, chain: EmbeddedGateway) -> None:
        chain.save_state(self.home / "embedded-state.json")


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Cli, dict[str, Path], Path, Path]:
    cli = Cli(tmp_path / "home")
    keys = {}
    for name in ("org", "alice", "bob"):
        keys[name] = write_keypair(tmp_path / f"{name}.json", Keypair())
    initial = {"w": np.zeros((4, 3), np.float32), "b": np.zeros(3, np.float32)}
    model = tmp_path / "initial.bin"
    model.write_bytes(encode_tensors(initial))
    task = tmp_path / "task.json"
    task.write_text('{"name": "digits"}')
    for name in keys:
        cli.ok(keys[name], "airdrop", "5")
    return cli, keys, model, task


def _create(cli: Cli, keys: dict[str, Path], model: Path, task: Path) -> str:
    created = cli.ok(
        keys["org"],
        "pool",
        "create",
        "--task",
        str(task),
        "--initial-model",
        str(model),
        "--max-rounds",
        "1",
        "--reward-per-round",
        "1",
        "--min-stake",
        "0.1",
    )
    return created["pool"]


def test_pool_life_through_the_cli(setup, tmp_path: Path) -> None:
    cli, keys, model, task = setup
    pool = _create(cli, keys, model, task)
    cli.ok(keys["org"], "pool", "fund", pool, "1")
    payout = Keypair().pubkey()
    cli.ok(keys["alice"], "join", pool, "--stake", "0.5", "--payout-wallet", str(payout))
    cli.ok(keys["bob"], "join", pool, "--stake", "0.5")
    cli.ok(keys["org"], "pool", "start", pool)
    update = {"w": np.full((4, 3), 0.5, np.float32), "b": np.ones(3, np.float32)}
    (tmp_path / "u.bin").write_bytes(encode_tensors(update))
    sent = cli.ok(
        keys["alice"], "submit", pool, "--update", str(tmp_path / "u.bin"), "--samples", "40"
    )
    assert sent["update_hash"] == tensors_hash(update).hex()
    # bob has not committed: the update must stay private until the deadline
    u_path = str(tmp_path / "u.bin")
    cli.fails(keys["alice"], "reveal", pool, "--update", u_path, match="still open")
    chain = cli.chain()
    chain.advance(601)
    cli.save(chain)
    cli.fails(keys["alice"], "reveal", pool, "--update", str(model), match="not the update")
    revealed = cli.ok(keys["alice"], "reveal", pool, "--update", u_path)
    assert revealed["update_cid"]

    # the organization is the aggregator: judge and finalize through the Python API
    chain, ix = cli.chain(), FedstakeInstructions()
    org = Keypair.from_json((keys["org"]).read_text())
    pool_key = Pubkey.from_string(pool)
    alice = Keypair.from_json(keys["alice"].read_text()).pubkey()
    chain.send_sync(
        [
            ix.judge_submission(
                org.pubkey(), pool_key, 1, alice, verdict=Verdict.ACCEPTED, score=10_000, reason=0
            )
        ],
        [org],
    )
    chain.send_sync(
        [ix.finalize_round(org.pubkey(), pool_key, 1, b"\x05" * 32, "bafkreiglobal")], [org]
    )
    cli.save(chain)

    status = cli.ok(keys["alice"], "status", pool)
    assert status["reward_unpaid"] == "1 SOL" and status["pool_status"] == "Finished"
    paid = cli.ok(keys["alice"], "claim", pool)
    assert paid["payout_wallet"] == str(payout) and paid["paid"] == "1 SOL"
    cli.ok(keys["alice"], "withdraw", pool)
    cli.ok(keys["bob"], "withdraw", pool)
    final = cli.chain()
    assert final.svm.get_balance(payout) == SOL
    state = decode_account(Pool, bytes(final.svm.get_account(pool_key).data))
    assert state.live_participants == 0 and state.global_model_hash == b"\x05" * 32
    listed = cli.ok(None, "pool", "list")
    assert [row["pool"] for row in listed] == [pool]


def test_errors_are_one_line_and_change_nothing(setup, tmp_path: Path) -> None:
    cli, keys, model, task = setup
    pool = _create(cli, keys, model, task)
    cli.fails(tmp_path / "missing.json", "join", pool, "--stake", "1", match="no keypair file")
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text("[1, 2, 3")
    cli.fails(corrupt, "join", pool, "--stake", "1", match="is not JSON")
    cli.fails(
        keys["alice"], "join", str(Keypair().pubkey()), "--stake", "1", match="no fedstake pool"
    )
    cli.fails(keys["alice"], "join", pool, "--stake", "0.01", match="below the pool's minimum")
    cli.fails(keys["alice"], "join", pool, "--stake", "abc", match="not an amount")
    cli.fails(keys["alice"], "join", "not-a-key", "--stake", "1", match="not a base58")
    tampered = tmp_path / "tampered.bin"
    tampered.write_bytes(model.read_bytes()[:-3])
    cli.fails(
        keys["alice"],
        "submit",
        pool,
        "--update",
        str(tampered),
        "--samples",
        "1",
        match="truncated",
    )
    bad_url = subprocess.run(
        [sys.executable, "-m", "client_kit.cli.main", "--url", "nowhere", "pool", "list"],
        env=cli.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad_url.returncode == 1 and bad_url.stderr.startswith("error: ")
    unreachable = subprocess.run(
        [
            sys.executable,
            "-m",
            "client_kit.cli.main",
            "--url",
            "http://127.0.0.1:1",
            "pool",
            "list",
        ],
        env=cli.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unreachable.returncode == 1
    assert unreachable.stderr.strip().startswith("error: cluster http://127.0.0.1:1 unreachable")
    assert len(unreachable.stderr.strip().splitlines()) == 1


def test_submit_after_deadline_and_claim_with_wrong_salt(setup, tmp_path: Path) -> None:
    cli, keys, model, task = setup
    pool = _create(cli, keys, model, task)
    cli.ok(keys["org"], "pool", "fund", pool, "1")
    joined = cli.ok(keys["alice"], "join", pool, "--stake", "0.5")
    cli.ok(keys["org"], "pool", "start", pool)
    chain = cli.chain()
    chain.advance(601)
    cli.save(chain)
    cli.fails(
        keys["alice"],
        "submit",
        pool,
        "--update",
        str(model),
        "--samples",
        "1",
        match="RoundDeadlinePassed",
    )
    # A locally edited salt is caught against the saved commitment ...
    secret_path = Path(joined["payout_secret"])
    secret = json.loads(secret_path.read_text())
    secret["salt"] = "00" * 32
    secret_path.write_text(json.dumps(secret))
    cli.fails(keys["alice"], "claim", pool, match="salt and commitment do not match")
    # ... and a consistent but wrong salt/commitment pair is refused on chain.
    forged = hashlib.sha256(bytes(Pubkey.from_string(secret["payout_wallet"])) + bytes(32))
    secret["commitment"] = forged.hexdigest()
    secret_path.write_text(json.dumps(secret))
    cli.fails(keys["alice"], "claim", pool, match="InvalidCommitment")
    participant = decode_account(
        Participant,
        bytes(
            cli.chain()
            .svm.get_account(
                FedstakeInstructions().participant(
                    Pubkey.from_string(pool), Keypair.from_json(keys["alice"].read_text()).pubkey()
                )
            )
            .data
        ),
    )
    assert participant.reward_paid == 0


def test_train_then_submit_with_a_real_task(tmp_path: Path) -> None:
    from client_kit.training.data import digits_mlp_spec, digits_shards
    from client_kit.training.task import TaskPackage, TrainingConfig

    cli = Cli(tmp_path / "home")
    org = write_keypair(tmp_path / "org.json", Keypair())
    alice = write_keypair(tmp_path / "alice.json", Keypair())
    for key in (org, alice):
        cli.ok(key, "airdrop", "5")
    task = TaskPackage.create(
        "digits", "test", digits_mlp_spec(hidden=8), TrainingConfig(epochs=1), seed=3
    )
    (tmp_path / "task.bin").write_bytes(task.to_bytes())
    (tmp_path / "init.bin").write_bytes(task.initial_weights)
    federation = digits_shards(2, alpha=0.5, seed=1, out_dir=tmp_path / "shards")
    pool = cli.ok(
        org,
        "pool",
        "create",
        "--task",
        str(tmp_path / "task.bin"),
        "--initial-model",
        str(tmp_path / "init.bin"),
        "--max-rounds",
        "1",
    )["pool"]
    cli.ok(org, "pool", "fund", pool, "1")
    cli.ok(alice, "join", pool, "--stake", "0.5")
    cli.ok(org, "pool", "start", pool)

    trained = cli.ok(
        alice, "train", pool, "--data", str(federation.paths[0]), "--out", str(tmp_path / "u.bin")
    )
    assert trained["samples"] == len(federation.shards[0])
    sent = cli.ok(
        alice,
        "submit",
        pool,
        "--update",
        str(tmp_path / "u.bin"),
        "--samples",
        str(trained["samples"]),
    )
    assert sent["update_hash"] == trained["update_hash"]

    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, x=np.zeros((5, 3), np.float32), y=np.zeros(5, np.int64))
    cli.fails(
        alice,
        "train",
        pool,
        "--data",
        str(wrong),
        "--out",
        str(tmp_path / "w.bin"),
        match="InvalidDataset",
    )
