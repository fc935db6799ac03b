"""What the agent shows: event lines (SOL for people, lamports for machines),
the live display while it waits and trains, and a graceful stop on
SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal

import pytest
from rich.console import Console

from offchain.agent import AgentEvent, ConsoleReporter, JsonLinesReporter
from offchain.agent.stopping import until_signal

VERDICT = AgentEvent(
    "verdict",
    {
        "pool": "P",
        "round": 2,
        "verdict": "Accepted",
        "reason": "ok",
        "score_bps": 5000,
        "reward_lamports": 500_000_000,
        "slashed_lamports": 0,
    },
)


def test_a_verdict_reads_in_sol_for_people_and_lamports_for_machines() -> None:
    assert VERDICT.text() == (
        "round 2: Accepted (ok), score 5000 bps, reward 0.5 SOL, slashed 0 SOL"
    )
    stream = io.StringIO()
    JsonLinesReporter(stream).event(VERDICT)
    line = json.loads(stream.getvalue())
    assert line["event"] == "verdict" and line["reward_lamports"] == 500_000_000


def test_an_unknown_or_incomplete_event_still_prints() -> None:
    assert AgentEvent("verdict", {"round": 1}).text() == "verdict: {'round': 1}"
    assert AgentEvent("novel", {"x": 1}).text() == "novel: {'x': 1}"


def test_the_live_display_shows_the_wait_and_the_training() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120, color_system=None)
    reporter = ConsoleReporter(console)
    reporter.waiting("round 1: committed; waiting for the submission phase to close", 42)
    reporter.progress.refresh()
    assert "waiting for the submission phase to close (42 s left)" in screen.getvalue()
    reporter.training(1, 2, 5, 0.6931)
    reporter.progress.refresh()
    assert "round 1: training, epoch 2/5, loss 0.6931" in screen.getvalue()
    reporter.event(VERDICT)
    reporter.close()
    assert "round 2: Accepted (ok)" in screen.getvalue()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
async def test_a_signal_cancels_the_work_gracefully(signum) -> None:
    cleaned = []

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            cleaned.append(True)

    async def send_soon() -> None:
        await asyncio.sleep(0.05)
        os.kill(os.getpid(), signum)

    sender = asyncio.create_task(send_soon())
    stopped = await asyncio.wait_for(until_signal(forever()), 10)
    await sender
    assert stopped.signal == signum and stopped.result is None and cleaned == [True]


async def test_work_that_ends_returns_its_result_and_restores_the_handlers() -> None:
    async def work() -> int:
        return 7

    before = signal.getsignal(signal.SIGINT)
    assert (await until_signal(work())).result == 7
    assert signal.getsignal(signal.SIGINT) == before
