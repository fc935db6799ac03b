"""The Flower adapter on the embedded chain: the example's ClientApp code with
`fedstake_mod`, FedAvg wrapped in `StakedStrategy`, every node in this
process (`LocalGrid`), the real program in LiteSVM and a real local store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np
import pytest
from flower_digits.pool import claim_all
from flower_digits.task import initial_model
from flwr.app import ArrayRecord, ConfigRecord, Context, Message
from flwr.clientapp import ClientApp
from flwr.clientapp.typing import ClientAppCallable

from client_kit.actions.operator import round_submissions
from client_kit.actions.reads import find_round, list_participants, load_pool
from client_kit.canonical import decode_tensors, encode_tensors, tensors_hash
from client_kit.enums import ParticipantStatus, PoolStatus, Reason, Verdict
from client_kit.flower import protocol as p
from client_kit.flower.mod import BaseNotOnChain
from client_kit.flower.records import record_of, tensors_of
from client_kit.gateway.embedded import EmbeddedGateway
from offchain.flower.strategy import OperatorLink, PoolNotRunning
from tests.flower.local_grid import LocalGrid
from tests.flower.staked import NODES, Setup


def swap_revealed_bytes(
    message: Message, context: Context, call_next: ClientAppCallable
) -> Message:
    """A cheating participant: at the reveal, it stores other (well-formed) bytes
    than the update it committed to, keeping the committed hash."""
    header = message.content.config_records.get(p.RECORD)
    if header is not None and header.get(p.PHASE) == p.REVEAL:
        kept = context.state.config_records[p.STATE]
        update = decode_tensors(bytes(kept[p.UPDATE]))  # type: ignore[arg-type]
        forged = {name: value * 2 for name, value in update.items()}
        context.state[p.STATE] = ConfigRecord({**kept, p.UPDATE: encode_tensors(forged)})
    return call_next(message, context)


def test_two_staked_rounds_finish_the_pool_and_pay_every_participant(tmp_path: Path) -> None:
    # Given a started pool of 3 participants and the example's ClientApp with the mod
    setup = Setup(tmp_path, rounds=2)
    apps = [setup.client_app(i) for i in range(NODES)]

    # When Flower runs 2 rounds with FedAvg wrapped in StakedStrategy
    strategy, grid, result = setup.run(apps, rounds=2)

    # Then every update was accepted, the chain records the global model Flower ended
    # with, the pool is Finished and every participant's reward is claimable
    assert grid.errors == []
    for outcome in strategy.outcomes.values():
        assert [j.verdict for j in outcome.judged] == [Verdict.ACCEPTED] * NODES
    pool = asyncio.run(load_pool(setup.chain, setup.pool))
    assert pool.status is PoolStatus.FINISHED
    assert bytes(pool.global_model_hash) == tensors_hash(tensors_of(result.arrays))
    assert result.train_metrics_clientapp[2]["fedstake-accepted"] == NODES
    paid = asyncio.run(claim_all(setup.chain, setup.pool, setup.keys))
    assert sum(paid.values()) == 2 * 1_000_000_000
    assert all(amount > 0 for amount in paid.values())


def test_revealed_bytes_that_differ_from_the_commitment_are_slashed(tmp_path: Path) -> None:
    # Given a pool where participant 2 reveals other bytes than it committed to
    setup = Setup(tmp_path, rounds=1)
    apps = [setup.client_app(0), setup.client_app(1), setup.client_app(2, swap_revealed_bytes)]
    cheat = setup.keys.participant(2).pubkey()

    # When Flower runs the round
    strategy, _, result = setup.run(apps, rounds=1)

    # Then the cheat is slashed for a hash mismatch, the honest two are accepted,
    # and the global model is built from the honest updates only
    verdicts = {j.wallet: (j.verdict, j.reason) for j in strategy.outcomes[1].judged}
    assert verdicts.pop(cheat) == (Verdict.SLASHED, Reason.HASH_MISMATCH)
    assert set(verdicts.values()) == {(Verdict.ACCEPTED, Reason.OK)}
    subs = {s.wallet: s for s in asyncio.run(round_submissions(setup.chain, setup.pool, 1))}
    assert subs[cheat].verdict is Verdict.SLASHED
    states = dict(asyncio.run(list_participants(setup.chain, setup.pool)))
    slashed = [s for s in states.values() if s.wallet == cheat]
    assert slashed[0].status is ParticipantStatus.SLASHED
    assert result.train_metrics_clientapp[1]["fedstake-slashed"] == 1
    paid = asyncio.run(claim_all(setup.chain, setup.pool, setup.keys))
    assert paid[str(cheat)] == 0


class RevealWindowRunsOut(LocalGrid):
    """Delivers like LocalGrid; once the reveal messages are answered, the
    embedded clock moves to the round's reveal deadline (time passing)."""

    def __init__(self, apps: list[ClientApp], setup: Setup) -> None:
        super().__init__(apps)
        self.setup = setup

    def send_and_receive(self, messages, *, timeout=None):  # type: ignore[no-untyped-def]
        messages = list(messages)
        replies = super().send_and_receive(messages, timeout=timeout)
        headers = [m.content.config_records.get(p.RECORD) for m in messages]
        if any(h is not None and h.get(p.PHASE) == p.REVEAL for h in headers):
            current = asyncio.run(find_round(self.setup.chain, self.setup.pool, 1))
            assert current is not None
            self.setup.chain.set_time(current.reveal_deadline)
        return replies


def go_silent(message: Message, context: Context, call_next: ClientAppCallable) -> Message:
    """A participant that commits, then is offline when asked to reveal."""
    header = message.content.config_records.get(p.RECORD)
    if header is not None and header.get(p.PHASE) == p.REVEAL:
        raise ConnectionError("node went offline")
    return call_next(message, context)


def test_a_commitment_never_revealed_is_slashed(tmp_path: Path) -> None:
    # Given a pool where participant 2 commits, then is offline at the reveal
    # while the reveal window runs out
    setup = Setup(tmp_path, rounds=1)
    silent = setup.keys.participant(2).pubkey()
    apps = [setup.client_app(0), setup.client_app(1), setup.client_app(2, go_silent)]

    # When Flower runs the round
    strategy, grid, _ = setup.run(apps, rounds=1, grid=RevealWindowRunsOut(apps, setup))

    # Then the silent commitment is slashed as not revealed and the round still finalizes
    verdicts = {j.wallet: (j.verdict, j.reason) for j in strategy.outcomes[1].judged}
    assert verdicts.pop(silent) == (Verdict.SLASHED, Reason.NOT_REVEALED)
    assert set(verdicts.values()) == {(Verdict.ACCEPTED, Reason.OK)}
    assert any("node went offline" in e for e in grid.errors)
    assert asyncio.run(load_pool(setup.chain, setup.pool)).status is PoolStatus.FINISHED


def test_a_client_refuses_to_train_on_a_model_the_pool_did_not_publish(tmp_path: Path) -> None:
    # Given a train message whose global model is not the pool's
    setup = Setup(tmp_path, rounds=1)
    grid = LocalGrid([setup.client_app(i) for i in range(NODES)])
    strategy = setup.strategy()
    messages = list(strategy.configure_train(1, ArrayRecord(initial_model().state_dict()),
                                             ConfigRecord(), grid))
    tampered = messages[0]
    forged = tensors_of(tampered.content["arrays"])
    forged["layers.0.bias"] = forged["layers.0.bias"] + np.float32(1)
    tampered.content["arrays"] = record_of(forged)

    # When it is delivered
    [reply] = grid.send_and_receive([tampered])

    # Then the node answers with an error and commits nothing
    assert reply.has_error() and BaseNotOnChain.__name__ in reply.error.reason
    assert asyncio.run(round_submissions(setup.chain, setup.pool, 1)) == []


def test_the_strategy_refuses_a_pool_that_is_not_training(tmp_path: Path) -> None:
    # Given a pool whose single round has been played
    setup = Setup(tmp_path, rounds=1)
    setup.run([setup.client_app(i) for i in range(NODES)], rounds=1)

    # When Flower asks for another round, Then the wrapper says why it cannot
    with pytest.raises(PoolNotRunning):
        setup.run([setup.client_app(i) for i in range(NODES)], rounds=1)


def stay_away(message: Message, context: Context, call_next: ClientAppCallable) -> Message:
    """A joined participant that does not commit in the round."""
    header = message.content.config_records.get(p.RECORD)
    if header is not None and header.get(p.PHASE) == p.COMMIT:
        raise ConnectionError("node is away")
    return call_next(message, context)


class Ticking:
    """The embedded chain, its clock 60 s further on at every read (time passing
    while the strategy polls); everything else delegated."""

    def __init__(self, chain: EmbeddedGateway) -> None:
        self.chain, self.reads = chain, 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.chain, name)

    async def unix_time(self) -> int:
        self.reads += 1
        self.chain.advance(60)
        return await self.chain.unix_time()


def test_the_strategy_holds_one_link_per_phase_while_it_polls(tmp_path: Path) -> None:
    # Given a round where participant 2 does not commit, so the commitment phase
    # closes only at its deadline (600 s), reached after about ten polls
    setup = Setup(tmp_path, rounds=1)
    apps = [setup.client_app(0), setup.client_app(1), setup.client_app(2, stay_away)]
    clock, opened = Ticking(setup.chain), []

    @asynccontextmanager
    async def connect() -> AsyncIterator[OperatorLink]:
        opened.append(clock.reads)
        yield OperatorLink(clock, setup.store, setup.keys.aggregator)  # type: ignore[arg-type]

    strategy = setup.strategy()
    strategy.connect = connect

    # When Flower runs the round
    strategy.start(
        grid=LocalGrid(apps), initial_arrays=ArrayRecord(initial_model().state_dict()),
        num_rounds=1,
    )

    # Then the two commitments are judged, and the strategy opened three links
    # (pool, commitment wait, reveal wait + judging), not one per poll
    assert [j.verdict for j in strategy.outcomes[1].judged] == [Verdict.ACCEPTED] * 2
    assert clock.reads >= 10
    assert len(opened) == 3
