"""Pools run through `client_kit.actions` (and the operator's `judge_round`) that
the API tests read back and watch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from client_kit.actions import participant
from client_kit.actions.participant import Revealed, Submitted
from client_kit.enums import ParticipantStatus, Verdict
from client_kit.gateway.base import TxResult
from client_kit.training.data import Dataset
from client_kit.training.spec import mlp_spec
from client_kit.training.task import AggregationSpec, TaskPackage, TrainingConfig
from client_kit.training.train import loss_and_accuracy
from offchain.aggregator import judge_round
from offchain.bus import EventBus
from offchain.events import RoundEvaluated
from tests.pools import SOL, PoolScenario, Trainer, filled


@dataclass
class JudgedRound:
    """Round 1 of a 2-round pool: three trainers committed and revealed; one
    accepted, one excluded (statistical), one slashed (objective); the round
    finalized (round 2 open)."""

    trainers: list[Trainer]
    submitted: dict[str, Submitted]  # wallet (base58) → its commitment
    revealed: dict[str, Revealed]  # wallet (base58) → its reveal
    judged: dict[str, TxResult]  # wallet (base58) → its judge_submission transaction
    verdicts: dict[str, Verdict]  # wallet (base58) → the verdict class given
    global_hash: bytes


VERDICTS = (Verdict.ACCEPTED, Verdict.EXCLUDED, Verdict.SLASHED)


async def judged_round(scenario: PoolScenario) -> JudgedRound:
    await scenario.create(max_rounds=2)
    await scenario.fund(2 * SOL)
    members = [await scenario.new_trainer() for _ in VERDICTS]
    for member in members:
        await scenario.join(member)
    await scenario.start()
    submitted = {str(m.wallet.pubkey()): await scenario.submit(m) for m in members}
    revealed = {str(m.wallet.pubkey()): await scenario.reveal(m) for m in members}
    judged, verdicts = {}, {}
    for member, verdict in zip(members, VERDICTS, strict=True):
        score = 10_000 if verdict is Verdict.ACCEPTED else 0
        judged[str(member.wallet.pubkey())] = await scenario.judge(member, verdict, score)
        verdicts[str(member.wallet.pubkey())] = verdict
    finalized = await scenario.finalize(filled(scenario.task, 0.5))
    return JudgedRound(members, submitted, revealed, judged, verdicts, finalized.global_model_hash)


# --- a pool that learns, round after round, for the dashboard --------------
@dataclass
class LearningPool:
    """A pool whose honest trainers really train (a separable 3-feature task),
    one attacker sends a scaled, sign-flipped update (the robust rule excludes
    it), one participant commits and never reveals (slashed `not_revealed`
    once the reveal deadline passes); the operator judges with the task's rule
    (`offchain.aggregator.judge_round`), evaluates each new global model on a
    held-out test set and publishes `RoundEvaluated`."""

    scenario: PoolScenario
    bus: EventBus
    honest: list[Trainer]
    attacker: Trainer
    silent: Trainer
    data: dict[str, Dataset]
    test_x: np.ndarray
    test_y: np.ndarray

    @classmethod
    async def open(cls, scenario: PoolScenario, bus: EventBus, *, rounds: int = 3) -> LearningPool:
        rng = np.random.default_rng(7)

        def dataset(n: int) -> tuple[np.ndarray, np.ndarray]:
            x = rng.standard_normal((n, 3)).astype(np.float32)
            return x, (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64)

        scenario.task = TaskPackage.create(
            "separable",
            "class = [x0 + x1/2 > 0], for the dashboard tests",
            mlp_spec(3, [], 2),
            TrainingConfig(epochs=2, lr=0.2),
            seed=0,
            aggregation=AggregationSpec("median"),
        )
        await scenario.create(max_rounds=rounds, max_participants=5)
        await scenario.fund(rounds * SOL)
        honest = [await scenario.new_trainer() for _ in range(3)]
        attacker = await scenario.new_trainer()
        silent = await scenario.new_trainer()
        for trainer in [*honest, attacker, silent]:
            await scenario.join(trainer)
        data = {str(t.wallet.pubkey()): Dataset(*dataset(96)) for t in honest}
        test_x, test_y = dataset(256)
        return cls(scenario, bus, honest, attacker, silent, data, test_x, test_y)

    async def _active(self, trainer: Trainer) -> bool:
        state = await self.scenario.participant_state(trainer)
        return state.status is ParticipantStatus.ACTIVE

    async def start(self) -> None:
        await self.scenario.start()

    async def submit_round(self) -> None:
        """Every trainer commits its update for the open round, then reveals it."""
        scenario = self.scenario
        inputs = await participant.fetch_round_inputs(scenario.chain, scenario.store, scenario.key)
        updates = []
        for trainer in self.honest:
            result = await participant.train_round(inputs, self.data[str(trainer.wallet.pubkey())])
            updates.append(result.update)
            await scenario.submit(trainer, result.update)
        committed = list(self.honest)
        if await self._active(self.attacker):
            poisoned = {k: -10.0 * v for k, v in updates[0].items()}
            await scenario.submit(self.attacker, poisoned)
            committed.append(self.attacker)
        silent = await self._active(self.silent)
        if silent:
            await scenario.submit(self.silent, updates[1])
        for trainer in committed:  # every eligible one committed: the reveal phase is open
            await scenario.reveal(trainer)
        if silent:  # it never reveals: the operator waits for the reveal deadline
            current = await scenario.round_state((await scenario.pool_state()).round)
            scenario.chain.set_time(current.reveal_deadline)  # type: ignore[attr-defined]

    async def judge_round(self) -> RoundEvaluated:
        """The operator's step: judge, finalize, evaluate, publish the evaluation."""
        scenario = self.scenario
        outcome = await judge_round(
            scenario.chain, scenario.store, scenario.aggregator, scenario.key
        )
        loss, accuracy = loss_and_accuracy(
            scenario.task.model, outcome.global_model, self.test_x, self.test_y
        )
        evaluated = RoundEvaluated(
            scenario.key, outcome.round, accuracy, loss, len(self.test_y), outcome.global_hash
        )
        self.bus.publish_operator(evaluated)
        return evaluated
