"""Paths a user gives that the OS refuses are one line and exit 1, never a traceback."""

from __future__ import annotations

from pathlib import Path

from tests.cli.runner import Cli


def test_an_output_in_a_missing_folder_is_one_line(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "home")
    out = tmp_path / "missing" / "task.bin"
    args = ["task", "init", "--model", "mlp", "--input", "4", "--hidden", "4", "--classes", "2"]
    message = cli.fails(None, *args, "--out", str(out), match="No such file or directory")
    assert "Traceback" not in message and not out.exists()


def test_a_home_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.write_text("not a folder")
    cli = Cli(home)
    message = cli.fails(None, "pool", "list", match="error:")
    assert "Traceback" not in message and home.read_text() == "not a folder"


def test_funding_more_than_the_wallet_holds_says_so(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "home")
    org, operator = tmp_path / "org.json", tmp_path / "op.json"
    cli.ok(None, "keys", "new", "--outfile", str(org))
    aggregator = cli.ok(None, "keys", "new", "--outfile", str(operator))["pubkey"]
    cli.ok(org, "airdrop", "1")
    task = tmp_path / "t.bin"
    cli.ok(None, "task", "init", "--model", "mlp", "--input", "4", "--hidden", "4",
           "--classes", "2", "--out", str(task))  # fmt: skip
    pool = cli.ok(org, "pool", "create", "--task", str(task), "--max-rounds", "1",
                  "--reward-per-round", "1", "--aggregator", aggregator)["pool"]  # fmt: skip
    cli.fails(org, "pool", "fund", pool, "1000", match="not enough SOL in the paying account")
