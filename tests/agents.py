"""Scaffolding for the participant agent's tests: local data for the tiny task,
an operator that judges each round once its reveal phase is over, and a
reporter that records what the agent said.

The operator here is the in-process path that exists today
(`offchain.aggregator.judge_round`), driven by polling the chain; the
operator service (`fedstake operator run`) replaces it in the end-to-end run.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client_kit.actions.reads import find_round, load_pool
from client_kit.canonical import Tensors
from client_kit.enums import PoolStatus
from client_kit.gateway.base import ChainGateway
from client_kit.storage.base import ContentStore
from client_kit.training.data import Dataset, save_npz
from client_kit.training.task import TaskPackage
from client_kit.training.train import train_local
from offchain.agent import AgentEvent, Reporter
from offchain.aggregator import RoundOutcome, judge_round

# The tiny task's labels: class 1 when x · W_TRUE > 0.
W_TRUE = np.array([1.0, -2.0, 0.5], np.float32)


def tiny_data(seed: int, n: int = 64) -> Dataset:
    """`n` samples for the tiny task (3 features, 2 classes), linearly separable."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3)).astype(np.float32)
    return Dataset(x, (x @ W_TRUE > 0).astype(np.int64))


def tiny_data_file(folder: Path, seed: int, n: int = 64) -> Path:
    """`tiny_data` saved as `<folder>/data-<seed>.npz`."""
    return save_npz(folder / f"data-{seed}.npz", tiny_data(seed, n))


class RecordingReporter(Reporter):
    """Keeps every event; `kill_on(kind)` makes the agent die right after
    reporting that event (a `Killed`, which nothing in the agent catches)."""

    def __init__(self, name: str = "", kill_on: str | None = None) -> None:
        self.name = name
        self.kill_on = kill_on
        self.events: list[AgentEvent] = []

    def event(self, event: AgentEvent) -> None:
        self.events.append(event)
        if event.kind == self.kill_on:
            raise Killed(f"{self.name} killed after {event.kind}")

    def of(self, kind: str) -> list[dict]:
        return [e.fields for e in self.events if e.kind == kind]


class Killed(BaseException):
    """A simulated kill -9: not an Exception, so no handler in the agent sees it."""


@dataclass
class RoundJudge:
    """The pool's aggregator: judges and finalizes each round with the pool's
    rule as soon as its reveal phase is over (everyone revealed, or the
    reveal deadline passed), until the pool ends. A reference update, when
    the rule needs one, is trained on `root` data."""

    chain: ChainGateway
    store: ContentStore
    aggregator: Keypair
    pool: Pubkey
    task: TaskPackage
    root: Dataset = field(default_factory=lambda: tiny_data(999))
    poll: float = 0.01
    outcomes: list[RoundOutcome] = field(default_factory=list)

    async def judge_if_ready(self) -> RoundOutcome | None:
        state = await load_pool(self.chain, self.pool)
        if state.status is not PoolStatus.TRAINING:
            return None
        current = await find_round(self.chain, self.pool, state.round)
        if current is None or not current.reveals_closed(await self.chain.unix_time()):
            return None
        outcome = await judge_round(
            self.chain, self.store, self.aggregator, self.pool, reference=self._reference
        )
        self.outcomes.append(outcome)
        return outcome

    def _reference(self, task: TaskPackage, base: Tensors, number: int) -> Tensors:
        """The operator's reference update: one local pass over its root data."""
        return train_local(task, base, self.root, seed=number).update

    async def run(self) -> list[RoundOutcome]:
        """Judges rounds until the pool is no longer Training (Open pools are waited for)."""
        while True:
            state = await load_pool(self.chain, self.pool)
            if state.ended:
                return self.outcomes
            await self.judge_if_ready()
            await asyncio.sleep(self.poll)


async def wait_for(predicate, timeout: float = 60.0, poll: float = 0.01):  # type: ignore[no-untyped-def]
    """Awaits `await predicate()` until it is truthy (returns it) or `timeout` s pass."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if loop.time() > deadline:
            raise TimeoutError(f"{predicate} still false after {timeout} s")
        await asyncio.sleep(poll)




class KillingGateway(ChainGateway):
    """Delegates to `inner`, and kills the caller (`Killed`) at its `at`-th
    transaction: before it reaches the chain, or right after it landed and
    before the caller learns it did — the two sides of a kill -9 mid-send."""

    def __init__(self, inner: ChainGateway, at: int, *, landed: bool) -> None:
        self.inner = inner
        self.program_id = inner.program_id
        self.at = at
        self.landed = landed
        self.sends = 0

    async def send(self, instructions, signers):  # type: ignore[no-untyped-def]
        self.sends += 1
        if self.sends == self.at and not self.landed:
            raise Killed(f"killed before transaction {self.at}")
        result = await self.inner.send(instructions, signers)
        if self.sends == self.at:
            raise Killed(f"killed after transaction {self.at} landed")
        return result

    async def get_account(self, pubkey):  # type: ignore[no-untyped-def]
        return await self.inner.get_account(pubkey)

    async def get_accounts(self, pubkeys):  # type: ignore[no-untyped-def]
        return await self.inner.get_accounts(pubkeys)

    async def program_accounts(self, filters=()):  # type: ignore[no-untyped-def]
        return await self.inner.program_accounts(filters)

    async def unix_time(self) -> int:
        return await self.inner.unix_time()

    async def airdrop(self, pubkey, lamports):  # type: ignore[no-untyped-def]
        await self.inner.airdrop(pubkey, lamports)


__all__ = [
    "W_TRUE",
    "Killed",
    "KillingGateway",
    "RecordingReporter",
    "RoundJudge",
    "tiny_data",
    "tiny_data_file",
    "wait_for",
]
