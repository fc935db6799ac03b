"""What the participant agent tells its user: one line per thing that happened,
a live status while it waits or trains.

`AgentEvent`s are what happened (joined, committed, revealed, a verdict, …),
with plain JSON values: amounts in lamports, hashes in hex, times in unix
seconds. Three reporters show them:

* `ConsoleReporter` — a line per event (amounts in SOL) above one live rich
  display: a spinner with what the agent waits for and the time left, and an
  epoch bar while it trains. Nothing live when the output is not a terminal.
* `JsonLinesReporter` — one JSON object per event per line (`{"event": kind,
  …fields}`), flushed at once, for machines (`fedstake --json participate`).
* `Reporter` — the silent base; tests subclass it to record events.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

from rich.console import Console

from client_kit.amounts import format_sol

# How each event reads for a person; fields ending in `_lamports` are shown in SOL.
_FORMATS: dict[str, str] = {
    "joined": "joined with a stake of {stake_lamports}; payout secret saved to {payout_secret}",
    "trained": "round {round}: trained on {num_samples} samples, loss {initial_loss:.4f} → "
    "{train_loss:.4f}",
    "privacy": "round {round}: DP-SGD spent ε = {epsilon_round:.3f} (δ = {delta:g}, σ = "
    "{noise_multiplier:.3f}); in total ε = {epsilon_total:.3f} of the budget {epsilon_budget:g}",
    "committed": "round {round}: committed to update {update_hash:.16}… ({behaviour})",
    "revealed": "round {round}: revealed {update_cid}",
    "verdict": "round {round}: {verdict} ({reason}), score {score_bps} bps, reward "
    "{reward_lamports}, slashed {slashed_lamports}",
    "missed": "round {round}: {why}",
    "expired": "round {round} expired: the aggregator did not finalize it in time",
    "pool_expired": "the pool expired: training never started",
    "claimed": "claimed {paid_lamports} to the payout wallet {payout_wallet}",
    "withdrawn": "withdrew {returned_lamports} (account closed: {closed})",
    "ended": "pool {status}: {summary}",
    "retrying": "{error}; retrying in {delay:.0f} s",
    "refused": "the program refused {error}; re-reading the chain",
    "stopped": "stopped ({why}); run the same command to resume",
}


@dataclass(frozen=True)
class AgentEvent:
    """Something the agent did or saw: `kind` (a key of the table above) and
    JSON-ready fields (the pool's address is added by the agent)."""

    kind: str
    fields: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"event": self.kind, **self.fields}

    def text(self) -> str:
        shown = {
            k: format_sol(v) if k.endswith("_lamports") and isinstance(v, int) else v
            for k, v in self.fields.items()
        }
        template = _FORMATS.get(self.kind)
        try:
            return template.format(**shown) if template else f"{self.kind}: {shown}"
        except (KeyError, ValueError, IndexError):
            return f"{self.kind}: {shown}"


class Reporter:
    """Receives the agent's events and progress; this base shows nothing."""

    def event(self, event: AgentEvent) -> None:
        """Something happened (one line)."""

    def waiting(self, text: str, seconds_left: int | None) -> None:
        """The agent waits for `text`; `seconds_left` until the chain deadline
        that ends the wait, if there is one."""

    def training(self, round_number: int, done: int, total: int, loss: float | None) -> None:
        """Epoch `done` of `total` finished (called from the training thread)."""

    def close(self) -> None:
        """The agent is done: remove any live display."""


class JsonLinesReporter(Reporter):
    """One JSON object per event and line on `stream` (default stdout), flushed."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def event(self, event: AgentEvent) -> None:
        self.stream.write(json.dumps(event.as_json(), sort_keys=True) + "\n")
        self.stream.flush()


class ConsoleReporter(Reporter):
    """Lines above a live rich display (spinner while waiting, bar while training)."""

    def __init__(self, console: Console | None = None) -> None:
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn

        self.console = console or Console()
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            console=self.console,
            transient=True,
            disable=not self.console.is_terminal,
        )
        self._wait = self.progress.add_task("starting", total=None)
        self._train = self.progress.add_task("training", total=1, visible=False)
        self.progress.start()

    def event(self, event: AgentEvent) -> None:
        self.console.print(event.text(), highlight=False, soft_wrap=True)
        self.console.file.flush()

    def waiting(self, text: str, seconds_left: int | None) -> None:
        left = f" ({seconds_left} s left)" if seconds_left is not None else ""
        self.progress.update(self._train, visible=False)
        self.progress.update(self._wait, description=f"{text}{left}", visible=True)

    def training(self, round_number: int, done: int, total: int, loss: float | None) -> None:
        shown = f", loss {loss:.4f}" if loss is not None else ""
        self.progress.update(self._wait, visible=False)
        self.progress.update(
            self._train,
            description=f"round {round_number}: training, epoch {done}/{total}{shown}",
            completed=done,
            total=total,
            visible=True,
        )

    def close(self) -> None:
        self.progress.stop()
