"""Global options are accepted after the subcommand, as the Solana CLI accepts them."""

from __future__ import annotations

from client_kit.cli.main import hoist_global_options


def test_global_options_move_in_front_with_their_values() -> None:
    args = ["status", "POOL", "--keypair", "k.json", "--json", "-u", "devnet", "--wallet", "W"]
    assert hoist_global_options(args) == [
        "--keypair", "k.json", "--json", "-u", "devnet", "status", "POOL", "--wallet", "W",
    ]  # fmt: skip


def test_joined_values_and_the_end_of_options_marker() -> None:
    assert hoist_global_options(["pool", "list", "--url=localnet", "--home=/h"]) == [
        "--url=localnet",
        "--home=/h",
        "pool",
        "list",
    ]
    # nothing after `--` is touched, and commands' own options stay where they are
    assert hoist_global_options(["join", "P", "--stake", "1", "--", "--json"]) == [
        "join", "P", "--stake", "1", "--", "--json",
    ]  # fmt: skip
    assert hoist_global_options(["--url", "embedded", "airdrop", "1"]) == [
        "--url", "embedded", "airdrop", "1",
    ]  # fmt: skip
