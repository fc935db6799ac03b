"""The round coordinator on the embedded chain: rounds run by themselves, early
when everyone acted and at the deadlines otherwise; operator failures are
retried, never judged; a crash at any step resumes to the same result.

The real `kill -9` of a separate operator process is in
tests/offchain/test_operator_process.py (Surfpool); here a crash is an
exception raised at the same fault-injection points inside one process.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from client_kit.canonical import tensors_hash
from client_kit.enums import PoolStatus, RewardPolicy, Verdict
from client_kit.events import SubmissionJudged, events_from_logs
from client_kit.gateway.embedded import EmbeddedGateway
from client_kit.storage.errors import StoreUnavailable
from client_kit.storage.local import LocalStore
from client_kit.training.data import Dataset
from offchain import coordinator as coordinator_module
from offchain.aggregator import gather_round
from offchain.bus import EventBus, OperatorEvent
from offchain.coordinator import Coordinator, CoordinatorSettings, Phase
from offchain.events import RoundEvaluated
from offchain.faults import POINTS
from offchain.journal import Journal
from offchain.judging import decide_round
from offchain.record import RoundRecord
from offchain.reference import OperatorData
from tests.pools import SOL, PoolScenario, tiny_task

FAST = CoordinatorSettings(poll=0.02, backoff_initial=0.01, backoff_max=0.05)


def tiny_data(seed: int, n: int = 64) -> Dataset:
    """Labelled points for the tiny 3→2 task: the class is the sign of x0 + x1."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3)).astype(np.float32)
    return Dataset(x, (x[:, 0] + x[:, 1] > 0).astype(np.int64))


async def until(check: Callable[[], object], timeout: float = 20.0) -> None:
    """Waits until the async or plain `check()` is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def _pool(tmp_path, trainers: int, rounds: int, **kw) -> PoolScenario:  # type: ignore[no-untyped-def]
    world = PoolScenario(EmbeddedGateway(), tmp_path / "store", task=kw.pop("task", tiny_task()))
    # Equal unless a test asks otherwise: most coordinators here run without reference data
    kw.setdefault("reward_policy", RewardPolicy.EQUAL)
    await world.setup()
    await world.create(max_participants=trainers, max_rounds=rounds, **kw)
    await world.fund(SOL * rounds)
    for _ in range(trainers):
        await world.join(await world.new_trainer())
    await world.start()
    return world


def _coordinator(world: PoolScenario, folder: Path, store=None, **kw) -> Coordinator:  # type: ignore[no-untyped-def]
    """The operator's coordinator for `world`'s pool (FAST settings), journaling in
    `folder`, reading `store` (default: the pool's); `kw`: data, bus."""
    return Coordinator(
        world.chain,
        store or world.store,
        world.aggregator,
        world.key,
        Journal(folder),
        settings=FAST,
        **kw,
    )


async def _play_round(world: PoolScenario, number: int, *, silent: int = 0) -> None:
    """Every trainer commits its own update; all but the last `silent` reveal."""
    await until(lambda: _round_is(world, number))
    for trainer in world.trainers:
        await world.submit(trainer, _update(world, trainer, number))
    for trainer in world.trainers[: len(world.trainers) - silent]:
        await world.reveal(trainer)


def _update(world: PoolScenario, trainer, number: int):  # type: ignore[no-untyped-def]
    """The trainer's own direction plus fresh noise each round (an unchanged
    resend of last round's update would be excluded as a replay)."""
    rng = np.random.default_rng([number, *bytes(trainer.wallet.pubkey())[:4]])
    return {
        k: (v + 0.005 * rng.standard_normal(v.shape)).astype(np.float32)
        for k, v in world.update_for(trainer).items()
    }


async def _round_is(world: PoolScenario, number: int) -> bool:
    pool = await world.pool_state()
    return pool.status is PoolStatus.TRAINING and pool.round == number


def _judged_counts(chain: EmbeddedGateway) -> Counter:
    """Counts every SubmissionJudged event landing from now on, by (round, wallet)."""
    counts: Counter = Counter()

    def listen(landed) -> None:  # type: ignore[no-untyped-def]
        for event in events_from_logs(landed.logs):
            if isinstance(event, SubmissionJudged):
                counts[(event.round, str(event.wallet))] += 1

    chain.add_listener(listen)
    return counts


async def test_rounds_run_by_themselves_and_are_evaluated(tmp_path) -> None:
    # Given a 2-round pool of three trainers, the operator's coordinator with
    # validation data and a bus
    world = await _pool(tmp_path, 3, 2)
    bus = EventBus()
    evaluated = bus.subscribe()
    coordinator = _coordinator(
        world, tmp_path / "operator", data=OperatorData(validation=tiny_data(1)), bus=bus
    )
    running = asyncio.create_task(coordinator.run())
    # When the trainers commit and reveal, round after round, before any deadline
    await _play_round(world, 1)
    await _play_round(world, 2)
    await asyncio.wait_for(running, 20)
    # Then both rounds were judged and finalized without anyone moving the clock
    pool = await world.pool_state()
    assert pool.status is PoolStatus.FINISHED and coordinator.status.phase is Phase.DONE
    for number in (1, 2):
        state = await world.round_state(number)
        journaled = coordinator.journal.round(world.key, number)
        assert journaled is not None and journaled.finalized
        assert state.global_model_hash == journaled.global_hash
        assert state.accepted_count == 3
        record = RoundRecord.from_bytes(world.store.get(state.record_cid_str))
        assert record.global_model.hash == journaled.global_hash
    # and round 2 named round 1's accepted updates as its sources
    first = RoundRecord.from_bytes(world.store.get((await world.round_state(1)).record_cid_str))
    second = RoundRecord.from_bytes(world.store.get((await world.round_state(2)).record_cid_str))
    assert list(second.sources) == first.accepted_sources() and len(second.sources) == 3
    assert second.previous_base == first.base
    # and each round's evaluation was published on the bus
    items = []
    while (item := evaluated.get_nowait()) is not None:
        items.append(item)
    events = [i.event for i in items if isinstance(i, OperatorEvent)]
    assert [e.round for e in events] == [1, 2]
    assert all(isinstance(e, RoundEvaluated) and 0 <= e.accuracy <= 1 for e in events)
    assert events[1].global_model_hash == pool.global_model_hash


async def test_a_silent_participant_is_judged_at_the_reveal_deadline(tmp_path) -> None:
    # Given a round where one trainer committed but never revealed
    world = await _pool(tmp_path, 3, 1)
    coordinator = _coordinator(world, tmp_path / "op")
    running = asyncio.create_task(coordinator.run())
    await _play_round(world, 1, silent=1)
    # When nothing happens before the reveal deadline, Then nothing is judged
    await until(lambda: coordinator.status.phase is Phase.REVEAL)
    assert (await world.round_state()).judged_count == 0
    # When the chain's clock reaches it, Then the round is judged and finalized
    world.chain.set_time((await world.round_state()).reveal_deadline)
    coordinator.wake()
    await asyncio.wait_for(running, 20)
    silent = await world.submission_state(world.trainers[-1])
    assert (silent.verdict, silent.reason.code) == (Verdict.SLASHED, "not_revealed")


class FlakyStore(LocalStore):
    """Reads of `failing` CIDs fail (an unreachable node) until `failing` is emptied."""

    failing: set[str]

    def get(self, cid, *args, **kwargs):  # type: ignore[no-untyped-def]
        if cid in getattr(self, "failing", ()):
            raise StoreUnavailable(f"{cid}: node unreachable")
        return super().get(cid, *args, **kwargs)


async def test_storage_outage_is_retried_and_never_judged(tmp_path) -> None:
    # Given a revealed round whose updates the operator's store cannot read
    world = await _pool(tmp_path, 2, 1)
    await _play_round(world, 1)
    store = FlakyStore(tmp_path / "store")
    store.failing = {(await world.submission_state(t)).update_cid_str for t in world.trainers}
    coordinator = _coordinator(world, tmp_path / "op", store=store)
    running = asyncio.create_task(coordinator.run())
    # When the coordinator tries, Then it retries and judges nobody
    await until(lambda: coordinator.status.retries >= 3)
    assert "UpdateUnavailable" in (coordinator.status.last_error or "")
    assert (await world.round_state()).judged_count == 0
    for trainer in world.trainers:
        assert (await world.participant_state(trainer)).stake == SOL // 2
    # When the store comes back, Then the round completes with honest verdicts
    store.failing = set()
    await asyncio.wait_for(running, 20)
    for trainer in world.trainers:
        assert (await world.submission_state(trainer)).verdict is Verdict.ACCEPTED


class Crash(BaseException):
    """Stands for the process dying at a fault-injection point."""


@pytest.mark.parametrize(("point", "count"), [*((p, 1) for p in POINTS), ("after_verdict", 2)])
async def test_a_crash_at_each_step_resumes_to_the_same_round(
    tmp_path, monkeypatch, point: str, count: int
) -> None:
    # Given a revealed round (trusted_mean, contribution policy: the reference update
    # matters) and what an uninterrupted operator would record
    task = tiny_task("trusted_mean")
    world = await _pool(tmp_path, 4, 1, task=task, reward_policy=RewardPolicy.CONTRIBUTION)
    data = OperatorData(reference=tiny_data(2))
    await _play_round(world, 1)
    expected = decide_round(
        await gather_round(world.chain, world.store, world.key, reference=data.reference_update)
    )
    judged = _judged_counts(world.chain)
    # When the operator dies at `point` (the count-th time it gets there)
    reached: Counter = Counter()

    def crash_at(name: str) -> None:
        reached[name] += 1
        if (name, reached[name]) == (point, count):
            raise Crash(name)

    monkeypatch.setattr(coordinator_module, "checkpoint", crash_at)
    journal_dir = tmp_path / "op"

    def operator() -> Coordinator:
        return _coordinator(world, journal_dir, data=data)

    with pytest.raises(Crash):
        await operator().run()
    # and a new one starts from the same data folder
    await asyncio.wait_for(operator().run(), 20)
    # Then the round completes, every submission judged exactly once, the same model
    state = await world.round_state(1)
    assert state.finalized and state.judged_count == 4
    assert sorted(judged.values()) == [1, 1, 1, 1]
    assert state.global_model_hash == expected.global_hash
    record = RoundRecord.from_bytes(world.store.get(state.record_cid_str))
    assert record == expected.record
    assert [(e.verdict, e.reason, e.score) for e in record.submissions] == [
        (j.verdict, j.reason, j.score_bps) for j in expected.judged
    ]
    assert tensors_hash(data.reference_update(task, task.initial_tensors(), 1)) == (
        record.reference.hash if record.reference else None
    )
