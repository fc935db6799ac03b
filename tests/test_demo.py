"""`make demo` as CI runs it (`CI=true`, no terminal on stdin): the whole system
in one process on the embedded chain tells its story and exits by itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_demo_tells_the_whole_story_and_exits_under_ci() -> None:
    env = {**os.environ, "CI": "true", "DEMO_PORT": "0", "COLUMNS": "120"}
    done = subprocess.run(
        [sys.executable, "scripts/demo.py"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=240,  # subprocess.run kills it on timeout
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    # the API served the dashboard, the operator judged and evaluated every round
    assert "API and dashboard: http://127.0.0.1:" in out
    for number in (1, 2, 3):
        assert f"Round {number} finalized" in out
    assert out.count("on its held-out test set: accuracy") == 3
    # the attacker and the free-rider were excluded every round, the honest paid
    assert out.count("mallory  excluded") == 3 and out.count("fred     excluded") == 3
    assert out.count("eve      slashed (hash_mismatch)") == 1  # then shut out
    assert out.count("→ claimed") == 4
    # payouts over /ws/payout: a theft attempt and a replay were refused by name
    assert "reveals ana's reward to its own wallet → wrong_salt" in out
    assert "replays the reveal → already_claimed" in out
    assert "exiting" in out
