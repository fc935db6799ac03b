"""Operator events on the bus: `RoundEvaluated` checks its values, operator
events take the next position in the bus's one order, and observers see every
published item before any subscriber."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from solders.pubkey import Pubkey

from offchain.bus import ChainEvent, Cursor, EventBus, OperatorEvent
from offchain.events import InvalidOperatorEvent, RoundEvaluated

POOL = Pubkey.new_unique()
HASH = bytes(range(32))


def evaluated(**changes: object) -> RoundEvaluated:
    fields: dict[str, object] = {
        "pool": POOL,
        "round": 1,
        "accuracy": 0.9,
        "loss": 0.3,
        "samples": 100,
        "global_model_hash": HASH,
    } | changes
    return RoundEvaluated(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "changes",
    [
        {"pool": str(POOL)},
        {"round": 0},
        {"round": 2**32},
        {"round": True},
        {"accuracy": 1.01},
        {"accuracy": -0.01},
        {"accuracy": math.nan},
        {"loss": -1.0},
        {"loss": math.inf},
        {"samples": 0},
        {"samples": 1.5},
        {"global_model_hash": HASH[:31]},
        {"global_model_hash": HASH.hex()},
    ],
)
def test_an_evaluation_out_of_range_is_refused_by_name(changes: dict) -> None:
    with pytest.raises(InvalidOperatorEvent):
        evaluated(**changes)


@given(
    st.floats(0, 1),
    st.floats(0, 1e6),
    st.integers(1, 2**32 - 1),
    st.integers(1, 10**9),
)
def test_any_evaluation_in_range_is_accepted(accuracy, loss, round_number, samples) -> None:  # type: ignore[no-untyped-def]
    event = evaluated(accuracy=accuracy, loss=loss, round=round_number, samples=samples)
    assert (event.accuracy, event.round) == (accuracy, round_number)


def test_an_operator_event_takes_the_next_position_after_the_chains_items() -> None:
    bus = EventBus()
    live = bus.subscribe()
    chain_item = ChainEvent(Cursor(7, 2, 0), object(), "sig")
    bus.publish(chain_item)
    item = bus.publish_operator(evaluated())
    assert isinstance(item, OperatorEvent)
    assert item.cursor == Cursor(7, 2, 1)
    assert (item.name, item.pool) == ("RoundEvaluated", POOL)
    assert [live.get_nowait(), live.get_nowait()] == [chain_item, item]
    # the chain's next transaction still comes after it
    assert bus.publish(ChainEvent(Cursor(7, 3, 0), object(), "sig2"))
    assert item.as_dict()["fields"]["global_model_hash"] == HASH.hex()


def test_observers_see_each_published_item_within_publish_and_cannot_break_the_bus() -> None:
    bus = EventBus()
    live = bus.subscribe()
    seen: list[tuple[str, int]] = []

    def observer(item) -> None:  # type: ignore[no-untyped-def]
        seen.append(("observer", live.queued))

    def broken(item) -> None:  # type: ignore[no-untyped-def]
        raise RuntimeError("bug")

    bus.add_observer(broken)
    bus.add_observer(observer)
    assert bus.publish(ChainEvent(Cursor(1, 0, 0), object(), "sig"))
    assert not bus.publish(ChainEvent(Cursor(1, 0, 0), object(), "sig"))  # a duplicate: unseen
    assert seen == [("observer", 1)]
    bus.remove_observer(observer)
    bus.publish_operator(evaluated())
    assert len(seen) == 1 and live.queued == 2
