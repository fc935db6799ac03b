"""Human tables by default, JSON with `--json`."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()


def emit(data: dict[str, Any] | list[dict[str, Any]], as_json: bool, title: str = "") -> None:
    if as_json:
        print(json.dumps(data, indent=2, sort_keys=True, default=str))
        return
    rows = data if isinstance(data, list) else [data]
    if not rows:
        console.print(f"{title}: none" if title else "none")
        return
    if isinstance(data, dict):
        table = Table(title=title or None, show_header=False)
        table.add_column("field", style="bold")
        table.add_column("value")
        for key, value in data.items():
            table.add_row(key, str(value))
    else:
        table = Table(title=title or None)
        for key in rows[0]:
            table.add_column(key)
        for row in rows:
            table.add_row(*(str(v) for v in row.values()))
    console.print(table)
