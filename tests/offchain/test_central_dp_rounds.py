"""Central DP in the operator: a FedAvg pool whose task asks for it gets noised
global models, the round record publishes ε from Opacus's accountant, anyone
can verify the round with `verify-round` (the model before the noise exactly,
the noise statistically), and an operator that skips the noise is caught."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from client_kit.canonical import decode_tensors, encode_tensors, tensors_hash
from client_kit.enums import RewardPolicy
from client_kit.storage.cid import compute_cid
from client_kit.training.accounting import MechanismStep, epsilon_spent
from client_kit.training.spec import mlp_spec
from client_kit.training.task import AggregationSpec, TaskPackage, TrainingConfig
from offchain.aggregation import make_rule
from offchain.bus import EventBus, OperatorEvent
from offchain.errors import InvalidRule
from offchain.judging import RoundDecision
from offchain.record import Content, RoundRecord
from offchain.reference import OperatorData
from offchain.verify import verify_round
from tests.offchain.test_coordinator import _coordinator, _play_round, _pool
from tests.offchain.test_verify_round import _lying_round

SIGMA, CLIP = 0.8, 0.05


def _task() -> TaskPackage:
    """3→64→2 (386 coordinates: enough for the noise statistics), FedAvg with central DP."""
    params = {"dp_clip": CLIP, "dp_noise_multiplier": SIGMA, "dp_delta": 1e-5}
    return TaskPackage.create(
        "central",
        "",
        mlp_spec(3, [64], 2),
        TrainingConfig(),
        aggregation=AggregationSpec("fedavg", params),
    )


async def test_central_dp_rounds_publish_epsilon_and_verify(tmp_path) -> None:
    # Given a 2-round FedAvg pool with central DP, run by the coordinator (Opacus
    # imported first: its first import takes seconds, longer than a round's wait)
    epsilon_spent([MechanismStep(SIGMA, 1.0, 1)], 1e-5)
    world = await _pool(tmp_path, 3, 2, task=_task(), reward_policy=RewardPolicy.EQUAL)
    bus = EventBus()
    feed = bus.subscribe(select=lambda item: isinstance(item, OperatorEvent))
    coordinator = _coordinator(world, tmp_path / "op", data=OperatorData(), bus=bus)
    running = asyncio.create_task(coordinator.run())
    try:
        for number in (1, 2):
            await _play_round(world, number)
        await asyncio.wait_for(running, 60)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)

    # Then each round's ε was published on the bus as it was finalized
    published = [feed.get_nowait() for _ in range(2)]
    assert [(p.name, p.event.round) for p in published] == [
        ("RoundPrivacy", 1),
        ("RoundPrivacy", 2),
    ]
    for number in (1, 2):
        # and each round record carries the accountant's ε, round and cumulative
        record = await _record(world, number)
        dp = record.central_dp
        assert dp is not None and dp.accepted == 3
        assert dp.noise_std == pytest.approx(SIGMA * CLIP / 3)
        one = epsilon_spent([MechanismStep(SIGMA, 1.0, 1)], 1e-5)
        assert dp.epsilon_round == pytest.approx(one)
        assert dp.epsilon_total == pytest.approx(
            epsilon_spent([MechanismStep(SIGMA, 1.0, number)], 1e-5)
        )
        event = published[number - 1].event
        assert (event.epsilon_round, event.epsilon_total) == (dp.epsilon_round, dp.epsilon_total)
        # the published model is not the noiseless one
        assert dp.noiseless_hash != record.global_model.hash
        # and anyone can verify the round
        result = await verify_round(world.chain, world.store, world.key, number)
        assert result.ok, result.report()


async def _record(world, number: int) -> RoundRecord:  # type: ignore[no-untyped-def]
    from client_kit.actions.reads import find_round
    from offchain.aggregator import fetch_record

    state = await find_round(world.chain, world.key, number)
    assert state is not None
    return await fetch_record(world.store, state)


def without_noise(decision: RoundDecision) -> RoundDecision:
    """An operator that records the DP figures but publishes the noiseless model."""
    assert decision.noiseless_model is not None
    data = encode_tensors(decision.noiseless_model)
    content = Content(tensors_hash(decision.noiseless_model), compute_cid(data))
    record = dataclasses.replace(decision.record, global_model=content)
    return dataclasses.replace(
        decision, global_model=data, global_hash=content.hash, global_cid=content.cid, record=record
    )


async def test_an_operator_that_skips_the_noise_is_caught(tmp_path) -> None:
    world = await _pool(tmp_path, 3, 1, task=_task(), reward_policy=RewardPolicy.EQUAL)
    await _play_round(world, 1)
    lie = await _lying_round(world, OperatorData(), without_noise)
    assert decode_tensors(lie.global_model)  # the noiseless model was published
    result = await verify_round(world.chain, world.store, world.key, 1)
    assert not result.ok
    assert [d.what for d in result.differences if d.what.startswith("noise is N(0")]


@pytest.mark.parametrize(
    "params",
    [
        {"dp_clip": 1.0},
        {"dp_noise_multiplier": 1.0},
        {"dp_clip": -1.0, "dp_noise_multiplier": 1.0},
        {"dp_clip": 1.0, "dp_noise_multiplier": 0.0},
        {"dp_clip": 1.0, "dp_noise_multiplier": 1.0, "dp_delta": 1.0},
        {"dp_clip": 1.0, "dp_noise_multiplier": 1.0, "dp_delta": -0.5},
    ],
)
def test_bad_central_dp_parameters_are_named_errors(params) -> None:
    with pytest.raises(InvalidRule):
        make_rule("fedavg", **params)


def test_round_privacy_events_check_their_values() -> None:
    from solders.pubkey import Pubkey

    from offchain.events import InvalidOperatorEvent, RoundPrivacy

    good = dict(
        pool=Pubkey.default(),
        round=1,
        epsilon_round=1.0,
        epsilon_total=2.0,
        delta=1e-5,
        noise_multiplier=1.0,
        clip=1.0,
        accepted=2,
    )
    RoundPrivacy(**good)  # type: ignore[arg-type]
    for bad in (
        {"epsilon_round": -1.0},
        {"epsilon_total": float("inf")},
        {"epsilon_round": 3.0},
        {"delta": 1.0},
        {"delta": 0.0},
        {"accepted": 0},
        {"round": 0},
        {"clip": 0.0},
    ):
        with pytest.raises(InvalidOperatorEvent):
            RoundPrivacy(**{**good, **bad})  # type: ignore[arg-type]


def test_a_record_with_central_dp_round_trips_and_rejects_bad_figures() -> None:
    from offchain.record import CentralDPRecord, InvalidRoundRecord
    from tests.offchain.test_record import record as sample_record

    dp = CentralDPRecord(0.5, 1.1, 1e-5, 3, 0.18333, 0.9, 2.7, bytes(range(32)))
    record = dataclasses.replace(sample_record(), central_dp=dp)
    assert RoundRecord.from_bytes(record.to_bytes()) == record
    assert b"central_dp" not in sample_record().to_bytes()
    for bad in (b'"epsilon_total":2.7', b'"accepted":3'):
        broken = record.to_bytes().replace(bad, bad.split(b":")[0] + b":-1")
        with pytest.raises(InvalidRoundRecord):
            RoundRecord.from_bytes(broken)
