"""The `fedstake` command line (typer + rich)."""
