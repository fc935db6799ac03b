"""Bad input reaching `fedstake_mod` and its settings: a named error, delivered
as Flower's error reply, and nothing committed or revealed on chain."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from flower_digits.task import initial_model
from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.app.message_type import MessageType
from flwr.clientapp import ClientApp

from client_kit.actions.operator import round_submissions
from client_kit.flower import protocol as p
from client_kit.flower.mod import make_fedstake_mod, participant_keypair_path
from client_kit.flower.records import update_between
from tests.flower.local_grid import LocalGrid
from tests.flower.staked import NODES, Setup


def _train_messages(setup: Setup, grid: LocalGrid) -> list[Message]:
    strategy = setup.strategy()
    arrays = ArrayRecord(initial_model().state_dict())
    return list(strategy.configure_train(1, arrays, ConfigRecord(), grid))


def _nothing_on_chain(setup: Setup) -> None:
    assert asyncio.run(round_submissions(setup.chain, setup.pool, 1)) == []


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    return Setup(tmp_path_factory.mktemp("mod"), rounds=1)


@pytest.mark.parametrize(
    ("record", "error"),
    [
        ({p.POOL: "not-a-pubkey", p.ROUND: 1, p.PHASE: p.COMMIT}, "FlowerProtocolError"),
        ({p.PHASE: p.COMMIT}, "FlowerProtocolError"),
        ({p.ROUND: 1, p.PHASE: "withdraw"}, "FlowerProtocolError"),
        ({p.ROUND: 2, p.PHASE: p.COMMIT}, "BaseNotOnChain"),
        ({p.ROUND: 1, p.PHASE: p.REVEAL}, "NothingToReveal"),
    ],
)
def test_a_malformed_or_untimely_fedstake_record_is_refused(
    setup: Setup, record: dict, error: str  # type: ignore[type-arg]
) -> None:
    # Given the strategy's train message with its fedstake record replaced
    grid = LocalGrid([setup.client_app(i) for i in range(NODES)])
    message = _train_messages(setup, grid)[0]
    fields = {p.POOL: str(setup.pool), **record}
    message.content = RecordDict({**message.content, p.RECORD: ConfigRecord(fields)})

    # When the node receives it
    [reply] = grid.send_and_receive([message])

    # Then it answers with the named error and nothing reaches the chain
    assert reply.has_error() and error in reply.error.reason
    _nothing_on_chain(setup)


def test_a_train_reply_without_a_sample_count_commits_nothing(setup: Setup) -> None:
    # Given an app whose train reply has no `num-examples`
    app = ClientApp(mods=[make_fedstake_mod(setup.participant_connect(0))])

    @app.train()
    def train(msg: Message, context: Context) -> Message:
        arrays = msg.content["arrays"]
        return Message(RecordDict({"arrays": arrays, "metrics": MetricRecord({"loss": 1.0})}),
                       reply_to=msg)

    grid = LocalGrid([app] * NODES)

    # When it trains, Then the mod refuses to commit without the claim
    [reply] = grid.send_and_receive(_train_messages(setup, grid)[:1])
    assert reply.has_error() and "num-examples" in reply.error.reason
    _nothing_on_chain(setup)


def test_an_unstaked_message_passes_through_untouched(setup: Setup) -> None:
    # Given a plain Flower train message (no fedstake record)
    grid = LocalGrid([setup.client_app(i) for i in range(NODES)])
    arrays = ArrayRecord(initial_model().state_dict())
    message = Message(RecordDict({"arrays": arrays, "config": ConfigRecord()}),
                      dst_node_id=1, message_type=MessageType.TRAIN)

    # When it is delivered, Then the app trains and nothing is committed
    [reply] = grid.send_and_receive([message])
    assert not reply.has_error() and p.RECORD not in reply.content.config_records
    _nothing_on_chain(setup)


def test_a_node_without_a_keypair_setting_is_told_which_to_set(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for name in (p.KEYPAIR, p.KEYS_DIR):
        monkeypatch.delenv(p.env_name(name), raising=False)
    context = Context(1, 1, {}, RecordDict(), {})
    with pytest.raises(p.FlowerProtocolError, match=p.KEYS_DIR):
        participant_keypair_path(context)
    folder = Context(1, 1, {"partition-id": 2}, RecordDict(), {p.KEYS_DIR: "/k"})
    assert participant_keypair_path(folder) == Path("/k/participant-2.json")


def test_trained_arrays_that_are_not_the_global_model_are_refused() -> None:
    base = {"w": np.zeros((2, 2), np.float32)}
    with pytest.raises(p.FlowerProtocolError):
        update_between(base, {"v": np.zeros((2, 2), np.float32)})
    with pytest.raises(p.FlowerProtocolError):
        update_between(base, {"w": np.zeros((3, 2), np.float32)})
    assert update_between(base, {"w": np.ones((2, 2), np.float32)})["w"].dtype == np.float32
