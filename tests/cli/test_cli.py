"""The `fedstake` CLI as users run it: a subprocess per command, the embedded
chain kept in a state file between calls. Judging and finalizing are the
operator's (`client_kit.actions.operator`), run here on the same state file."""

from __future__ import annotations

import asyncio
import json
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client_kit.actions import operator
from client_kit.actions.reads import find_participant, load_pool
from client_kit.canonical import canonical_hash, encode_tensors, tensors_hash
from client_kit.enums import Reason, Verdict
from client_kit.keys import load_keypair, payout_commitment, write_keypair
from client_kit.storage.cid import compute_cid
from client_kit.storage.errors import ContentNotFound
from client_kit.training.task import TaskPackage
from tests.cli.runner import Cli
from tests.pools import tiny_task

SOL = 1_000_000_000


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Cli, dict[str, Path], Path]:
    """Three funded keypairs and a task package, made in process (the commands
    that make them, `keys new`, `airdrop`, `task init`, have their own tests)."""
    cli = Cli(tmp_path / "home")
    chain = cli.chain()
    keys = {}
    for name in ("org", "alice", "bob"):
        keypair = Keypair()
        keys[name] = write_keypair(tmp_path / f"{name}.json", keypair)
        asyncio.run(chain.airdrop(keypair.pubkey(), 5 * SOL))
    cli.save(chain)
    task = tmp_path / "task.bin"
    task.write_bytes(tiny_task().to_bytes())
    return cli, keys, task


def _create(cli: Cli, keys: dict[str, Path], task: Path, *extra: str) -> str:
    created = cli.ok(
        keys["org"],
        "pool",
        "create",
        "--task",
        str(task),
        "--max-rounds",
        "1",
        "--reward-per-round",
        "1",
        "--min-stake",
        "0.1",
        *extra,
    )
    return created["pool"]


def _pubkey(path: Path) -> Pubkey:
    return load_keypair(path).pubkey()


def test_pool_life_through_the_cli(setup, tmp_path: Path) -> None:
    cli, keys, task = setup
    pool = _create(cli, keys, task)
    cli.ok(keys["org"], "pool", "fund", pool, "1")
    payout = Keypair().pubkey()
    cli.ok(keys["alice"], "join", pool, "--stake", "0.5", "--payout-wallet", str(payout))
    cli.ok(keys["bob"], "join", pool, "--stake", "0.5")
    cli.ok(keys["org"], "pool", "start", pool)
    package = TaskPackage.from_bytes(task.read_bytes())
    update = {
        name: np.full(shape, 0.5, np.float32)
        for name, shape in package.model.parameter_shapes().items()
    }
    (tmp_path / "u.bin").write_bytes(encode_tensors(update))
    u_path = str(tmp_path / "u.bin")
    sent = cli.ok(keys["alice"], "submit", pool, "--update", u_path, "--samples", "40")
    assert sent["update_hash"] == tensors_hash(update).hex()
    assert "update_cid" not in sent
    with pytest.raises(ContentNotFound):  # nothing uploaded yet
        cli.store().get(compute_cid(encode_tensors(update)))
    shown = cli.ok(None, "pool", "show", pool)
    assert shown["status"] == "Training" and shown["round"] == 1
    assert shown["balance"].endswith(" SOL") and shown["total_funded"] == "1 SOL"
    # bob has not committed: the update stays private until the submission phase closes
    cli.fails(keys["alice"], "reveal", pool, "--update", u_path, match="still open")
    chain = cli.chain()
    chain.advance(601)
    cli.save(chain)
    other = tmp_path / "other.bin"
    other.write_bytes(encode_tensors({k: v + 1 for k, v in update.items()}))
    cli.fails(keys["alice"], "reveal", pool, "--update", str(other), match="not the update")
    cli.fails(keys["bob"], "reveal", pool, "--update", u_path, match="no commitment")
    revealed = cli.ok(keys["alice"], "reveal", pool, "--update", u_path)
    assert cli.store().get(revealed["update_cid"]) == encode_tensors(update)
    shown = cli.ok(None, "round", "show", pool)
    assert (shown["submission_count"], shown["revealed_count"]) == (1, 1)
    assert shown["reveals_closed"] is True

    # the organization is the aggregator: it judges and finalizes with the operator actions
    chain, org = cli.chain(), load_keypair(keys["org"])
    pool_key = Pubkey.from_string(pool)
    alice = _pubkey(keys["alice"])

    async def operate() -> bytes:
        await operator.judge_submission(
            chain, org, pool_key, 1, alice, Verdict.ACCEPTED, 10_000, Reason.OK
        )
        model = encode_tensors(update)
        await operator.finalize_round(
            chain, cli.store(), org, pool_key, 1, model, b"scripted round record"
        )
        return canonical_hash(model)

    global_hash = asyncio.run(operate())
    cli.save(chain)

    status = cli.ok(keys["alice"], "status", pool)
    assert status["reward_unpaid"] == "1 SOL" and status["pool_status"] == "Finished"
    assert status["submission"] == "Accepted, revealed (score 10000 bps)"
    # withdrawing before claiming keeps the account (reward unpaid); claim, then close it
    first = cli.ok(keys["alice"], "withdraw", pool)
    assert (first["returned"].startswith("0.49"), first["account_closed"]) == (True, False)
    paid = cli.ok(keys["alice"], "claim", pool)
    assert paid["payout_wallet"] == str(payout) and paid["paid"] == "1 SOL"
    assert cli.ok(keys["alice"], "withdraw", pool)["account_closed"] is True
    cli.ok(keys["bob"], "withdraw", pool)
    final = cli.chain()
    assert final.svm.get_balance(payout) == SOL
    state = asyncio.run(load_pool(final, pool_key))
    assert state.live_participants == 0 and state.global_model_hash == global_hash
    listed = cli.ok(None, "pool", "list")
    assert [row["pool"] for row in listed] == [pool]
    assert listed[0]["status"] == "Finished"


def test_cancel_and_close_run_through_the_cli(setup) -> None:
    cli, keys, task = setup
    pool = _create(cli, keys, task)
    cli.ok(keys["org"], "pool", "fund", pool, "1")
    cli.ok(keys["alice"], "join", pool, "--stake", "0.5")
    org_before = cli.chain().svm.get_balance(_pubkey(keys["org"]))
    cli.ok(keys["org"], "pool", "cancel", pool)
    shown = cli.ok(None, "pool", "show", pool)
    assert shown["status"] == "Cancelled" and shown["total_refunded"] == "1 SOL"
    assert cli.chain().svm.get_balance(_pubkey(keys["org"])) == org_before + SOL - 5_000
    cli.fails(keys["org"], "pool", "close", pool, match="ParticipantsRemaining")
    returned = cli.ok(keys["alice"], "withdraw", pool)
    assert returned["returned"].startswith("0.50")
    cli.ok(keys["org"], "pool", "close", pool)
    cli.fails(None, "pool", "show", pool, match=f"no fedstake pool at {pool}")
    assert cli.ok(None, "pool", "list") == []


def test_pool_create_picks_the_next_free_id_and_refuses_a_taken_one(setup) -> None:
    cli, keys, task = setup
    first = cli.ok(keys["org"], "pool", "create", "--task", str(task))
    second = cli.ok(keys["org"], "pool", "create", "--task", str(task))
    assert (first["pool_id"], second["pool_id"]) == (1, 2)
    other = cli.ok(keys["alice"], "pool", "create", "--task", str(task))
    assert other["pool_id"] == 1  # ids are per organization
    cli.fails(
        keys["org"],
        "pool",
        "create",
        "--task",
        str(task),
        "--pool-id",
        "2",
        match=f"pool id 2 is taken by {second['pool']}",
    )


def test_a_retired_pool_id_is_skipped_and_refused(setup) -> None:
    # Given pool 1 trained (its round 1 stays on chain) and was closed
    cli, keys, task = setup
    pool = _create(cli, keys, task, "--join-window", "60", "--round-duration", "60")
    cli.ok(keys["org"], "pool", "fund", pool, "1")
    cli.ok(keys["alice"], "join", pool, "--stake", "0.5")
    cli.ok(keys["org"], "pool", "start", pool)
    chain = cli.chain()
    chain.advance(60 + 300 + 86_400)  # the aggregator never shows up: the round expires
    cli.save(chain)
    cli.ok(keys["bob"], "round", "expire", pool)
    cli.ok(keys["alice"], "withdraw", pool)
    cli.ok(keys["org"], "pool", "close", pool)
    # When the organization creates pools again, Then id 1 is skipped and refused by name
    cli.fails(
        keys["org"], "pool", "create", "--task", str(task), "--pool-id", "1",
        match="pool id 1 belonged to a pool that trained and was closed",
    )  # fmt: skip
    assert cli.ok(keys["org"], "pool", "create", "--task", str(task))["pool_id"] == 2


def test_pool_create_takes_the_windows_and_the_reward_policy(setup) -> None:
    cli, keys, task = setup
    pool = _create(
        cli, keys, task, "--reveal-duration", "120", "--expiry-grace", "3600",
        "--claim-window", "7200", "--reward-policy", "contribution",
    )  # fmt: skip
    shown = cli.ok(None, "pool", "show", pool)
    assert (shown["reveal_duration"], shown["expiry_grace"], shown["claim_window"]) == (
        120,
        3600,
        7200,
    )
    assert shown["reward_policy"] == "Contribution"
    cli.fails(
        keys["org"], "pool", "create", "--task", str(task), "--reward-policy", "loudest",
        match="no policy 'loudest'",
    )  # fmt: skip
    cli.fails(
        keys["org"], "pool", "create", "--task", str(task), "--claim-window", "40000000",
        match="InvalidParameter",
    )  # fmt: skip


def test_a_pool_nobody_tends_is_ended_by_strangers(setup, tmp_path: Path) -> None:
    # Given a pool that never started and whose organization went silent
    cli, keys, task = setup
    pool = _create(cli, keys, task, "--join-window", "60", "--claim-window", "600")
    cli.ok(keys["org"], "pool", "fund", pool, "1")
    cli.ok(keys["alice"], "join", pool, "--stake", "0.5")
    stranger = write_keypair(tmp_path / "stranger.json", Keypair())
    cli.ok(stranger, "airdrop", "1")
    # expiring too early is refused by name, and changes nothing
    cli.fails(stranger, "pool", "expire", pool, match="ExpiryNotReached")
    chain = cli.chain()
    chain.advance(60 + 86_400)
    cli.save(chain)
    # When a stranger expires it, reclaims the funding, and settles alice after the window
    cli.ok(stranger, "pool", "expire", pool)
    org_before = cli.chain().svm.get_balance(_pubkey(keys["org"]))
    reclaimed = cli.ok(stranger, "pool", "reclaim", pool)
    assert reclaimed["reclaimed"] == "1 SOL" and reclaimed["organization"] == str(
        _pubkey(keys["org"])
    )
    assert cli.chain().svm.get_balance(_pubkey(keys["org"])) == org_before + SOL
    cli.fails(stranger, "pool", "reclaim", pool, match="NothingToReclaim")
    alice = str(_pubkey(keys["alice"]))
    cli.fails(stranger, "settle", pool, "--wallet", alice, match="ClaimWindowOpen")
    cli.fails(stranger, "pool", "close", pool, match="ClaimWindowOpen")
    chain = cli.chain()
    chain.advance(600)
    cli.save(chain)
    alice_before = cli.chain().svm.get_balance(_pubkey(keys["alice"]))
    settled = cli.ok(stranger, "settle", pool, "--wallet", alice)
    assert (settled["stake_returned"], settled["forfeited"]) == ("0.5 SOL", "0 SOL")
    assert cli.chain().svm.get_balance(_pubkey(keys["alice"])) > alice_before + SOL // 2
    # Then anyone may close it, and everything goes to the organization
    cli.ok(stranger, "pool", "close", pool)
    cli.fails(None, "pool", "show", pool, match=f"no fedstake pool at {pool}")


def test_bad_amounts_are_one_line_and_change_nothing(setup) -> None:
    cli, keys, task = setup
    pool = _create(cli, keys, task)
    alice = keys["alice"]
    # each bad amount through a different command (parse_sol's own test covers every pair)
    cli.fails(alice, "airdrop", "NaN", match="'NaN' is not a finite amount")
    cli.fails(alice, "pool", "fund", pool, "Infinity", match="'Infinity' is not a finite")
    cli.fails(alice, "join", pool, "--stake", "-1", match="'-1': an amount of SOL cannot be")
    cli.fails(
        alice, "pool", "create", "--task", str(task), "--reward-per-round", "1e400",
        match="'1e400' SOL is more than the program can hold",
    )  # fmt: skip
    cli.fails(
        alice, "pool", "create", "--task", str(task), "--min-stake", "0.0000000001",
        match="'0.0000000001' SOL is finer than one lamport",
    )  # fmt: skip


def test_airdrop_funds_you_or_another_wallet(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "home")
    me = write_keypair(tmp_path / "me.json", Keypair())
    other = Keypair().pubkey()
    assert cli.ok(me, "airdrop", "1.5") == {
        "wallet": str(load_keypair(me).pubkey()),
        "balance": "1.5 SOL",
    }
    assert cli.ok(me, "airdrop", "0.25", "--to", str(other))["balance"] == "0.25 SOL"
    assert cli.chain().svm.get_balance(other) == SOL // 4


def test_errors_are_one_line_and_change_nothing(setup, tmp_path: Path) -> None:
    cli, keys, task = setup
    pool = _create(cli, keys, task)
    alice = keys["alice"]
    # keypairs
    cli.fails(tmp_path / "missing.json", "join", pool, "--stake", "1", match="no keypair file")
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text("[1, 2, 3")
    cli.fails(corrupt, "join", pool, "--stake", "1", match="is not JSON")
    # addresses
    nowhere = str(Keypair().pubkey())
    cli.fails(alice, "join", nowhere, "--stake", "1", match="no fedstake pool")
    cli.fails(alice, "join", "not-a-key", "--stake", "1", match="not a base58")
    cli.fails(alice, "airdrop", "1", "--to", "not-a-key", match="recipient 'not-a-key'")
    cli.fails(alice, "pool", "fund", nowhere, "1", match="no fedstake pool")
    cli.fails(alice, "pool", "show", "xyz", match="not a base58")
    # stakes and files
    cli.fails(alice, "join", pool, "--stake", "0.01", match="below the pool's minimum")
    cli.fails(alice, "join", pool, "--stake", "abc", match="not an amount")
    model = tmp_path / "model.bin"
    model.write_bytes(encode_tensors({"w": np.zeros(3, np.float32)}))
    tampered = tmp_path / "tampered.bin"
    tampered.write_bytes(model.read_bytes()[:-3])
    cli.fails(alice, "submit", pool, "--update", str(tampered), "--samples", "1", match="truncated")
    cli.fails(alice, "submit", pool, "--update", str(model), "--samples", "1", match="not Training")
    cli.fails(
        keys["org"], "pool", "create", "--task", str(tmp_path / "nope.bin"), match="no file at"
    )
    cli.fails(keys["org"], "pool", "create", "--task", str(model), match="not a fedstake task")
    cli.fails(keys["org"], "pool", "create", "--task", str(tmp_path), match="is a directory")
    # on-chain refusals, by name
    cli.fails(keys["org"], "pool", "start", pool, match="NoParticipants")
    cli.ok(alice, "join", pool, "--stake", "0.5")
    cli.fails(keys["org"], "pool", "start", pool, match="InsufficientFunding")
    cli.ok(keys["org"], "pool", "fund", pool, "1")
    cli.fails(alice, "pool", "start", pool, match="Unauthorized")
    cli.fails(alice, "pool", "cancel", pool, match="Unauthorized")
    cli.fails(keys["bob"], "status", pool, match="has not joined pool")
    cli.fails(alice, "withdraw", pool, match="InvalidPoolStatus")
    cli.fails(alice, "settle", pool, "--wallet", "not-a-key", match="wallet 'not-a-key'")
    cli.fails(alice, "pool", "reclaim", pool, match="InvalidPoolStatus")
    cli.fails(alice, "round", "expire", pool, match="InvalidPoolStatus")
    cli.fails(keys["bob"], "claim", pool, match="no payout secret")
    # usage errors from typer are one line too
    cli.fails(alice, "pool", "list", "--bogus", match="No such option")
    cli.fails(alice, "join", pool, match="Missing option '--stake'")
    cli.fails(alice, "frobnicate", match="No such command")
    # clusters
    bad_url = subprocess.run(
        [sys.executable, "-m", "frontend_api.cli", "pool", "list", "--url", "nowhere"],
        env=cli.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad_url.returncode == 1 and bad_url.stderr.startswith("error: unknown cluster")
    unreachable = subprocess.run(
        [sys.executable, "-m", "frontend_api.cli", "-u", "http://127.0.0.1:1", "pool", "list"],
        env=cli.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unreachable.returncode == 1
    assert unreachable.stderr.strip().startswith("error: cluster http://127.0.0.1:1 unreachable")
    assert len(unreachable.stderr.strip().splitlines()) == 1


def test_keys_new_writes_a_private_file_and_never_overwrites(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "home")
    default = tmp_path / "solana" / "id.json"
    made = cli.ok(default, "keys", "new")  # --keypair names the default outfile
    assert made["outfile"] == str(default)
    assert stat.S_IMODE(default.stat().st_mode) == 0o600
    assert json.loads(default.read_text()) == list(bytes(load_keypair(default)))
    assert cli.ok(default, "keys", "show")["pubkey"] == made["pubkey"]
    before = default.read_bytes()
    cli.fails(default, "keys", "new", match="already exists")
    cli.fails(None, "keys", "new", "--outfile", str(default), match="already exists")
    assert default.read_bytes() == before


def test_task_init_from_flags_and_from_a_spec(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "home")
    flags = tmp_path / "flags.bin"
    made = cli.ok(
        None,
        "task",
        "init",
        "--out",
        str(flags),
        "--name",
        "digits",
        "--model",
        "mlp",
        "--input",
        "64",
        "--hidden",
        "32",
        "--classes",
        "10",
        "--epochs",
        "2",
        "--rule",
        "trimmed_mean",
        "--rule-param",
        "beta=0.1",
    )
    package = TaskPackage.from_bytes(flags.read_bytes())
    assert made["initial_model_hash"] == package.initial_weights_hash.hex()
    assert package.model.parameter_shapes() == {
        "layers.0.weight": (32, 64),
        "layers.0.bias": (32,),
        "layers.2.weight": (10, 32),
        "layers.2.bias": (10,),
    }
    assert package.training.epochs == 2
    assert (package.aggregation.rule, package.aggregation.params) == ("trimmed_mean", {"beta": 0.1})
    spec = tmp_path / "spec.json"
    spec.write_text(
        json.dumps(
            {
                "name": "digits",
                "model": {"mlp": {"input": 64, "hidden": [32], "classes": 10}},
                "training": {"epochs": 2},
                "aggregation": {"rule": "trimmed_mean", "params": {"beta": 0.1}},
            }
        )
    )
    from_spec = tmp_path / "spec.bin"
    cli.ok(None, "task", "init", "--spec", str(spec), "--out", str(from_spec))
    assert from_spec.read_bytes() == flags.read_bytes()  # same spec, same bytes
    # refused: a taken output, an unknown rule, a parameter out of range, no model
    cli.fails(None, "task", "init", "--spec", str(spec), "--out", str(flags), match="exists")
    out = str(tmp_path / "x.bin")
    cli.fails(
        None, "task", "init", "--spec", str(spec), "--out", out, "--rule", "best", match="rule"
    )
    cli.fails(
        None,
        "task",
        "init",
        "--spec",
        str(spec),
        "--out",
        out,
        "--rule-param",
        "beta=0.9",
        match="beta must be in",
    )
    cli.fails(None, "task", "init", "--out", out, match="no model")
    assert not Path(out).exists()


def test_commit_after_deadline_and_claim_with_wrong_salt(setup, tmp_path: Path) -> None:
    cli, keys, task = setup
    pool = _create(cli, keys, task)
    cli.ok(keys["org"], "pool", "fund", pool, "1")
    joined = cli.ok(keys["alice"], "join", pool, "--stake", "0.5")
    cli.ok(keys["org"], "pool", "start", pool)
    chain = cli.chain()
    chain.advance(601)
    cli.save(chain)
    update = tmp_path / "u.bin"
    package = TaskPackage.from_bytes(task.read_bytes())
    update.write_bytes(package.initial_weights)
    cli.fails(
        keys["alice"], "submit", pool, "--update", str(update), "--samples", "1",
        match="RoundDeadlinePassed",
    )  # fmt: skip
    # A locally edited salt is caught against the saved commitment ...
    secret_path = Path(joined["payout_secret"])
    secret = json.loads(secret_path.read_text())
    secret["salt"] = "00" * 32
    secret_path.write_text(json.dumps(secret))
    cli.fails(keys["alice"], "claim", pool, match="salt and commitment do not match")
    # ... and a consistent but wrong salt/commitment pair is refused on chain.
    forged = payout_commitment(Pubkey.from_string(secret["payout_wallet"]), bytes(32))
    secret["commitment"] = forged.hex()
    secret_path.write_text(json.dumps(secret))
    cli.fails(keys["alice"], "claim", pool, match="InvalidCommitment")
    member = asyncio.run(
        find_participant(cli.chain(), Pubkey.from_string(pool), _pubkey(keys["alice"]))
    )
    assert member is not None and member.reward_paid == 0


def test_train_then_submit_with_a_real_task(tmp_path: Path) -> None:
    from client_kit.training.data import digits_shards

    cli = Cli(tmp_path / "home")
    org = tmp_path / "org.json"
    alice = tmp_path / "alice.json"
    for key in (org, alice):
        cli.ok(None, "keys", "new", "--outfile", str(key))
        cli.ok(key, "airdrop", "5")
    task = tmp_path / "task.bin"
    cli.ok(
        None, "task", "init", "--out", str(task), "--model", "mlp", "--input", "64",
        "--hidden", "8", "--classes", "10", "--seed", "3",
    )  # fmt: skip
    federation = digits_shards(2, alpha=0.5, seed=1, out_dir=tmp_path / "shards")
    pool = cli.ok(org, "pool", "create", "--task", str(task), "--max-rounds", "1")["pool"]
    cli.ok(org, "pool", "fund", pool, "1")
    cli.ok(alice, "join", pool, "--stake", "0.5")
    cli.ok(org, "pool", "start", pool)

    trained = cli.ok(
        alice, "train", pool, "--data", str(federation.paths[0]), "--out", str(tmp_path / "u.bin")
    )
    assert trained["samples"] == len(federation.shards[0])
    sent = cli.ok(
        alice, "submit", pool, "--update", str(tmp_path / "u.bin"),
        "--samples", str(trained["samples"]),
    )  # fmt: skip
    assert sent["update_hash"] == trained["update_hash"]
    assert cli.ok(alice, "status", pool)["submission"] == (
        "Pending, committed, not revealed (score 0 bps)"
    )
    # alice is the only participant: her commitment closes the submission phase
    revealed = cli.ok(alice, "reveal", pool, "--update", str(tmp_path / "u.bin"))
    assert cli.store().get(revealed["update_cid"]) == (tmp_path / "u.bin").read_bytes()

    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, x=np.zeros((5, 3), np.float32), y=np.zeros(5, np.int64))
    cli.fails(
        alice, "train", pool, "--data", str(wrong), "--out", str(tmp_path / "w.bin"),
        match="samples have shape [3], the model needs [64]",
    )  # fmt: skip
