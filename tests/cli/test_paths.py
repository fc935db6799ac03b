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
