"""`verify-round`: a round recomputed from the chain and storage alone matches
what an honest operator recorded, and a tampered global model or a wrong
verdict is caught with a readable difference (exit code 1)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from client_kit.actions import operator
from client_kit.canonical import decode_tensors, encode_tensors, tensors_hash
from client_kit.enums import Reason, RewardPolicy, Verdict
from client_kit.storage.cid import compute_cid
from offchain.aggregator import gather_round
from offchain.judging import JudgedSubmission, RoundDecision, decide_round
from offchain.record import Content
from offchain.reference import OperatorData
from offchain.verify import RoundNotFinalized, verify_round
from tests.offchain.test_coordinator import _coordinator, _play_round, _pool, tiny_data
from tests.pools import PoolScenario, tiny_task

ROOT = Path(__file__).resolve().parents[2]


async def _honest_pool(tmp_path, rounds: int = 2) -> tuple[PoolScenario, OperatorData]:
    """A trusted_mean pool with the contribution policy, run by the coordinator."""
    world = await _pool(
        tmp_path, 4, rounds, task=tiny_task("trusted_mean"), reward_policy=RewardPolicy.CONTRIBUTION
    )
    data = OperatorData(reference=tiny_data(3))
    coordinator = _coordinator(world, tmp_path / "op", data=data)
    running = asyncio.create_task(coordinator.run())
    for number in range(1, rounds + 1):
        await _play_round(world, number)
    await asyncio.wait_for(running, 30)
    return world, data


async def test_every_round_of_an_honest_operator_verifies(tmp_path) -> None:
    world, _ = await _honest_pool(tmp_path)
    for number in (1, 2):
        result = await verify_round(world.chain, world.store, world.key, number)
        assert result.ok, result.report()
        assert result.submissions == 4 and "✓" in result.report()


async def _lying_round(world: PoolScenario, data: OperatorData, tamper) -> RoundDecision:  # type: ignore[no-untyped-def]
    """Judges round 1 as an operator that alters the honest decision with `tamper`
    (verdicts and model recorded consistently in the chain and the record)."""
    inputs = await gather_round(
        world.chain, world.store, world.key, reference=data.reference_update
    )
    decision = tamper(decide_round(inputs))
    for j in decision.judged:
        await operator.judge_submission(
            world.chain, world.aggregator, world.key, 1, j.wallet, j.verdict, j.score_bps, j.reason
        )
    await operator.finalize_round(
        world.chain,
        world.store,
        world.aggregator,
        world.key,
        1,
        decision.global_model,
        decision.record_bytes,
    )
    return decision


async def _revealed_round(tmp_path) -> tuple[PoolScenario, OperatorData]:  # type: ignore[no-untyped-def]
    world = await _pool(
        tmp_path, 4, 1, task=tiny_task("trusted_mean"), reward_policy=RewardPolicy.CONTRIBUTION
    )
    await _play_round(world, 1)
    return world, OperatorData(reference=tiny_data(3))


def tampered_model(decision: RoundDecision) -> RoundDecision:
    """The honest verdicts, but a global model nudged away from the rule's output."""
    model = {k: v + np.float32(0.25) for k, v in decode_tensors(decision.global_model).items()}
    data = encode_tensors(model)
    content = Content(tensors_hash(model), compute_cid(data))
    record = dataclasses.replace(decision.record, global_model=content)
    return dataclasses.replace(
        decision, global_model=data, global_hash=content.hash, global_cid=content.cid, record=record
    )


def wrong_verdict(decision: RoundDecision) -> RoundDecision:
    """The first accepted submission excluded (its score kept by nobody)."""
    victim = next(j for j in decision.judged if j.accepted)
    judged = [
        JudgedSubmission(j.wallet, Verdict.EXCLUDED, Reason.ROBUST_RULE, 0) if j is victim else j
        for j in decision.judged
    ]
    entries = tuple(
        dataclasses.replace(e, verdict=Verdict.EXCLUDED, reason=Reason.ROBUST_RULE, score=0)
        if e.wallet == victim.wallet
        else e
        for e in decision.record.submissions
    )
    record = dataclasses.replace(decision.record, submissions=entries)
    return dataclasses.replace(decision, judged=judged, record=record)


@pytest.mark.parametrize(
    ("tamper", "caught"),
    [(tampered_model, "global model hash"), (wrong_verdict, "verdict of")],
)
async def test_a_lying_operator_is_caught(tmp_path, tamper, caught: str) -> None:
    # Given a round judged by an operator that altered the honest outcome
    world, data = await _revealed_round(tmp_path)
    lie = await _lying_round(world, data, tamper)
    # When anyone recomputes it
    result = await verify_round(world.chain, world.store, world.key, 1)
    # Then the difference is named, with what was recorded and what the rule gives
    assert not result.ok
    assert [d.what for d in result.differences if d.what.startswith(caught)], result.report()
    if tamper is tampered_model:
        (diff,) = [d for d in result.differences if d.what == "global model hash"]
        assert diff.recorded == lie.global_hash.hex() and diff.recomputed != diff.recorded
    assert "✗" in result.report()


async def test_an_unfinalized_round_cannot_be_verified(tmp_path) -> None:
    world, _ = await _revealed_round(tmp_path)
    with pytest.raises(RoundNotFinalized):
        await verify_round(world.chain, world.store, world.key, 1)


def _cli(home: Path, store: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "FEDSTAKE_STORE": f"local:{store}"}
    return subprocess.run(
        [sys.executable, "-m", "offchain.cli", "--url", "embedded", "--home", str(home), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_the_command_exits_0_for_a_true_round_and_1_with_a_diff(tmp_path) -> None:
    # Given an honest pool and a lying one, saved as the CLI's embedded chain
    honest, _ = await _honest_pool(tmp_path / "honest", rounds=1)
    honest.chain.save_state(tmp_path / "honest-home" / "embedded-state.json")
    liar, data = await _revealed_round(tmp_path / "liar")
    await _lying_round(liar, data, tampered_model)
    liar.chain.save_state(tmp_path / "liar-home" / "embedded-state.json")
    # When each is verified from the command line
    good = _cli(
        tmp_path / "honest-home",
        tmp_path / "honest" / "store",
        "verify-round",
        str(honest.key),
        "1",
    )
    bad = _cli(
        tmp_path / "liar-home", tmp_path / "liar" / "store", "verify-round", str(liar.key), "1"
    )
    # Then the true round exits 0, the lie 1 with the difference spelled out
    assert good.returncode == 0, good.stderr
    assert "✓" in good.stdout
    assert bad.returncode == 1, bad.stderr
    assert "✗ global model hash: recorded" in bad.stdout
    missing = _cli(
        tmp_path / "liar-home", tmp_path / "liar" / "store", "verify-round", "not-a-pool", "1"
    )
    assert missing.returncode == 1 and missing.stderr.startswith("error: ")
