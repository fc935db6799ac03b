"""`StakedStrategy`: a Flower strategy wrapper that runs each Flower round as a
fedstake round.

`StakedStrategy(inner=FedAvg(...), ...)` keeps the inner strategy's sampling,
configuration and evaluation, and replaces its aggregation with fedstake's:

1. `configure_train` sends the pool's current global model as the chain
   records it (fetched by CID, hash checked: whatever `initial_arrays` Flower
   was started with, a staked pool trains from its own model) through the
   inner strategy's messages, each tagged with fedstake's `commit` record
   (`client_kit.flower.protocol`). Participants' `fedstake_mod` commits each
   update's hash on chain.
2. `aggregate_train` waits for the round's commitment phase to close, sends
   each committed node a `reveal` message, waits for the reveal phase to
   close, then judges the round with `offchain.aggregator.judge_round`: the
   revealed bytes checked against the commitments, the objective checks
   (slashable), the pool's robust rule (accept / exclude), verdicts and the
   new global model's hash recorded on chain, the round finalized. The new
   global model goes back to Flower as an ArrayRecord; the replies of the
   accepted participants go to the inner strategy only for its metrics (its
   arrays are discarded: the global model is the judged one).

Flower strategies are synchronous; the chain and store calls here run to
completion in `asyncio.run`, each phase over one link opened for it
(`OperatorLink`): one to read the pool and its model, one held while waiting
for the commitment phase to close, one held while waiting for the reveal
phase to close and judging.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from logging import INFO, WARNING
from typing import Any, TypeVar

from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.app.message_type import MessageType
from flwr.serverapp import Grid
from flwr.serverapp.strategy import Strategy
from flwr.supercore import log
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client_kit.accounts import Pool, Round
from client_kit.actions.reads import find_round, load_pool
from client_kit.canonical import tensors_hash
from client_kit.enums import PoolStatus, Verdict
from client_kit.errors import FedstakeError
from client_kit.flower import protocol as p
from client_kit.flower.records import record_of, tensors_of
from client_kit.gateway.base import ChainGateway
from client_kit.gateway.factory import connect_gateway
from client_kit.keys import load_keypair
from client_kit.storage import open_store
from client_kit.storage.base import ContentStore
from offchain.aggregator import ReferenceFn, RoundOutcome, fetch_tensors, judge_round
from offchain.errors import RoundNotReady
from offchain.record import Content

T = TypeVar("T")


class PoolNotRunning(FedstakeError):
    """Flower asked for a training round but the pool has no open round
    (not started, finished or cancelled)."""


@dataclass(frozen=True)
class OperatorLink:
    """What the strategy acts with: the chain, the content store and the
    pool's aggregator key (the one allowed to judge and finalize)."""

    chain: ChainGateway
    store: ContentStore
    aggregator: Keypair


OperatorConnect = Callable[[], AbstractAsyncContextManager[OperatorLink]]


def operator_connect(url: str, store: str, aggregator: Keypair) -> OperatorConnect:
    """Links to the chain at `url` (an RPC URL; `embedded` only works when the
    clients run in this process) and the store `store` (`open_store` spec)."""

    @asynccontextmanager
    async def connect() -> AsyncIterator[OperatorLink]:
        chain = await connect_gateway(url)
        try:
            yield OperatorLink(chain, open_store(store), aggregator)
        finally:
            await chain.close()

    return connect


@dataclass(frozen=True)
class Waits:
    """How long the strategy waits (wall seconds): for replies to reveal
    messages, for the chain to close a phase (polled every `poll`)."""

    reveal_replies: float = 600.0
    phase: float = 900.0
    poll: float = 0.25


class StakedStrategy(Strategy):
    """Wraps `inner` so each Flower round is round `pool.round` of `pool`
    (see the module docstring).

    `connect()` opens an `OperatorLink`; `reference` is the operator's
    reference update for rules or reward policies that need one
    (`offchain.aggregator.ReferenceFn`). Raises, from the round methods:
    `PoolNotRunning`, `RoundNotReady` (a phase did not close within
    `waits.phase`), and what `judge_round` raises (`RoundInputUnavailable`,
    chain errors). The last outcome is kept in `outcomes` (round → outcome).
    """

    def __init__(
        self,
        inner: Strategy,
        *,
        pool: Pubkey,
        connect: OperatorConnect,
        reference: ReferenceFn | None = None,
        waits: Waits | None = None,
    ) -> None:
        self.inner = inner
        self.pool = pool
        self.connect = connect
        self.reference = reference
        self.waits = waits or Waits()
        self.outcomes: dict[int, RoundOutcome] = {}
        self._grid: Grid | None = None
        self._round: int | None = None

    @classmethod
    def from_context(cls, inner: Strategy, context: Context, **kwargs: Any) -> StakedStrategy:
        """The wrapper with its settings from the ServerApp's run_config:
        `fedstake-pool`, `fedstake-url`, `fedstake-store`,
        `fedstake-aggregator-keypair` (a keypair file). `FlowerProtocolError`
        for a missing one."""
        config = context.run_config
        pool = Pubkey.from_string(p.setting(p.POOL_SETTING, config))
        aggregator = load_keypair(p.setting(p.AGGREGATOR_KEYPAIR, config))
        connect = operator_connect(
            p.setting(p.URL, config), p.setting(p.STORE, config, default="local"), aggregator
        )
        return cls(inner, pool=pool, connect=connect, **kwargs)

    # --- chain access ---------------------------------------------------------
    def _run(self, step: Callable[[OperatorLink], Awaitable[T]]) -> T:
        """Runs `step` to completion over one link, closed afterwards."""

        async def go() -> T:
            async with self.connect() as link:
                return await step(link)

        return asyncio.run(go())

    async def _wait_for(
        self, link: OperatorLink, number: int, closed: Callable[[Round, int], bool], what: str
    ) -> None:
        """Polls round `number` over `link` every `waits.poll` s until `closed`;
        `RoundNotReady` after `waits.phase` s."""
        give_up = time.monotonic() + self.waits.phase
        while True:
            current = await find_round(link.chain, self.pool, number)
            if current is not None and closed(current, await link.chain.unix_time()):
                return
            if time.monotonic() >= give_up:
                raise RoundNotReady(
                    f"round {number}'s {what} phase did not close within {self.waits.phase} s"
                )
            await asyncio.sleep(self.waits.poll)

    # --- Flower's Strategy ----------------------------------------------------
    def summary(self) -> None:
        """Logs the pool, then the inner strategy's summary."""
        log(INFO, "\t├──> fedstake pool %s (StakedStrategy)", self.pool)
        self.inner.summary()

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """The inner strategy's train messages, carrying the pool's global
        model and fedstake's `commit` record."""

        async def current(link: OperatorLink) -> tuple[Pool, ArrayRecord]:
            state = await load_pool(link.chain, self.pool)
            if state.status is not PoolStatus.TRAINING:
                raise PoolNotRunning(f"pool {self.pool} is {state.status}: no round to train")
            content = Content(bytes(state.global_model_hash), state.global_model_cid_str)
            model = await fetch_tensors(link.store, content, "global model")
            return state, record_of(model)

        state, global_arrays = self._run(current)
        if tensors_hash(tensors_of(arrays)) != bytes(state.global_model_hash):
            log(WARNING, "fedstake: training from the pool's global model, not the arrays given")
        self._grid, self._round = grid, state.round
        log(INFO, "fedstake: Flower round %s is pool round %s", server_round, state.round)
        header = ConfigRecord({p.POOL: str(self.pool), p.ROUND: state.round, p.PHASE: p.COMMIT})
        weight_key = getattr(self.inner, "weighted_by_key", None)
        if isinstance(weight_key, str):
            header[p.WEIGHT_KEY] = weight_key
        messages = list(self.inner.configure_train(server_round, global_arrays, config, grid))
        for message in messages:
            message.content[p.RECORD] = header
        return messages

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        """Reveal, judge and finalize the round (module docstring); the judged
        global model and the inner strategy's metrics over the accepted
        replies, plus fedstake's verdict counts."""
        if self._grid is None or self._round is None:
            raise PoolNotRunning("aggregate_train before configure_train")
        number, grid = self._round, self._grid
        committed = {}
        for reply in replies:
            record = None if reply.has_error() else reply.content.config_records.get(p.RECORD)
            if record is not None and record.get(p.ROUND) == number:
                committed[str(record[p.WALLET])] = reply
        log(INFO, "fedstake: %s commitment(s) in round %s", len(committed), number)

        self._run(lambda link: self._wait_for(link, number, Round.submissions_closed, "commitment"))
        header = ConfigRecord({p.POOL: str(self.pool), p.ROUND: number, p.PHASE: p.REVEAL})
        reveals = [
            Message(
                RecordDict({p.RECORD: header}),
                dst_node_id=reply.metadata.src_node_id,
                message_type=MessageType.TRAIN,
            )
            for reply in committed.values()
        ]
        answers = list(grid.send_and_receive(reveals, timeout=self.waits.reveal_replies))
        failed = [a.error.reason for a in answers if a.has_error()]
        log(INFO, "fedstake: %s reveal(s) answered, failed: %s", len(answers), failed)

        async def judge(link: OperatorLink) -> RoundOutcome:
            await self._wait_for(link, number, Round.reveals_closed, "reveal")
            return await judge_round(
                link.chain, link.store, link.aggregator, self.pool, reference=self.reference
            )

        outcome = self._run(judge)
        self.outcomes[number] = outcome
        verdicts = {str(j.wallet): j for j in outcome.judged}
        for j in outcome.judged:
            log(INFO, "fedstake: %s %s (%s)", j.wallet, j.verdict.value, j.reason.name)
        accepted = [r for w, r in committed.items() if w in verdicts and verdicts[w].accepted]
        metrics = self.inner.aggregate_train(server_round, accepted)[1] if accepted else None
        merged = MetricRecord(dict(metrics) if metrics is not None else {})
        for verdict in (Verdict.ACCEPTED, Verdict.EXCLUDED, Verdict.SLASHED):
            merged[f"fedstake-{verdict.value.lower()}"] = sum(
                j.verdict is verdict for j in outcome.judged
            )
        merged["fedstake-round"] = number
        return record_of(outcome.global_model), merged

    def configure_evaluate(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """The inner strategy's evaluation, unchanged."""
        return self.inner.configure_evaluate(server_round, arrays, config, grid)

    def aggregate_evaluate(
        self, server_round: int, replies: Iterable[Message]
    ) -> MetricRecord | None:
        """The inner strategy's evaluation metrics, unchanged."""
        return self.inner.aggregate_evaluate(server_round, replies)
