"""A pool driven step by step through `client_kit.actions`, for tests on any backend.

Test scaffolding only: a tiny real task package (a 3→2 perceptron), a real
content store, fresh keys, and one method per action so a test reads as the
story it checks. Every step returns what the action returned (with its
`TxResult`), so tests can look at events and compute units.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client_kit.accounts import Participant, Pool, Round, Submission
from client_kit.actions import exits, operator, organization, participant
from client_kit.actions.reads import (
    find_round,
    find_submission,
    instructions,
    load_participant,
    load_pool,
)
from client_kit.canonical import Tensors, encode_tensors
from client_kit.enums import Reason, Verdict
from client_kit.gateway.base import ChainGateway
from client_kit.keys import PayoutSecret
from client_kit.storage.local import LocalStore
from client_kit.training.spec import mlp_spec
from client_kit.training.task import AggregationSpec, TaskPackage, TrainingConfig

SOL = 1_000_000_000
# The reason a scripted verdict gives when none is named (one of its class).
SCRIPTED_REASON = {
    Verdict.ACCEPTED: Reason.OK,
    Verdict.EXCLUDED: Reason.ROBUST_RULE,
    Verdict.SLASHED: Reason.SHAPE,
}
DEFAULT_TERMS = organization.PoolTerms(
    reward_per_round=SOL,
    max_rounds=1,
    round_duration=600,
    join_window=3_600,
    min_stake=SOL // 10,
    max_participants=5,
    slash_bps=5_000,
)


def tiny_task(
    rule: str = "fedavg", seed: int = 0, hidden: tuple[int, ...] = (), **params: float
) -> TaskPackage:
    """A 3-input, 2-class perceptron task (tensors layers.0.weight [2, 3], layers.0.bias [2]),
    or with `hidden` layers an MLP (3 → *hidden → 2), one local epoch per round,
    judged by `rule` with `params` (the task package's aggregation parameters).

    Multi-round runs with real training want a hidden layer or a smaller
    `replay_tolerance`: on the bare perceptron one epoch from the next round's
    base gives an update within 1 − cos ≈ 1e-6 of the participant's previous
    one, where the operator's `replay` test (an unchanged resend: 1 − cos ≤
    1e-6 by default, docs/AGGREGATION.md) draws its line; with `hidden=(8,)`
    it is ≈ 6e-5.
    """
    return TaskPackage.create(
        "tiny",
        "a test task",
        mlp_spec(3, list(hidden), 2),
        TrainingConfig(epochs=1),
        seed=seed,
        aggregation=AggregationSpec(rule, params),
    )


def filled(task: TaskPackage, value: float) -> Tensors:
    """Tensors shaped like the task's model, every element `value` (float32)."""
    return {name: np.full(shape, value, np.float32) for name, shape in shapes(task).items()}


def shapes(task: TaskPackage) -> dict[str, tuple[int, ...]]:
    return task.model.parameter_shapes()


@dataclass
class Trainer:
    wallet: Keypair
    payout: Keypair
    secret: PayoutSecret | None = None
    committed: participant.PreparedUpdate | None = None  # the update to reveal


@dataclass
class PoolScenario:
    chain: ChainGateway
    store_dir: Path
    organization: Keypair = field(default_factory=Keypair)
    aggregator: Keypair = field(default_factory=Keypair)
    task: TaskPackage = field(default_factory=tiny_task)
    trainers: list[Trainer] = field(default_factory=list)
    pool: Pubkey | None = None

    def __post_init__(self) -> None:
        self.store = LocalStore(self.store_dir)
        self.ix = instructions(self.chain)

    # --- keys --------------------------------------------------------------
    @property
    def key(self) -> Pubkey:
        assert self.pool is not None, "create the pool first"
        return self.pool

    def participant(self, trainer: Trainer) -> Pubkey:
        return self.ix.participant(self.key, trainer.wallet.pubkey())

    # --- steps -------------------------------------------------------------
    async def setup(self) -> None:
        await self.chain.airdrop(self.organization.pubkey(), 20 * SOL)
        await self.chain.airdrop(self.aggregator.pubkey(), 2 * SOL)

    async def create(self, *, pool_id: int | None = None, **terms: int):  # type: ignore[no-untyped-def]
        created = await organization.create_pool(
            self.chain,
            self.store,
            self.organization,
            self.task,
            replace(DEFAULT_TERMS, **terms),
            pool_id=pool_id,
            aggregator=self.aggregator.pubkey(),
        )
        self.pool = created.pool
        return created

    async def fund(self, amount: int):  # type: ignore[no-untyped-def]
        return await organization.fund_pool(self.chain, self.organization, self.key, amount)

    async def start(self):  # type: ignore[no-untyped-def]
        return await organization.start_training(self.chain, self.organization, self.key)

    async def cancel(self):  # type: ignore[no-untyped-def]
        return await organization.cancel_pool(self.chain, self.organization, self.key)

    async def close(self, closer: Keypair | None = None):  # type: ignore[no-untyped-def]
        """`close_pool` by the organization, or by `closer` (anyone, after the claim window)."""
        return await exits.close_pool(self.chain, closer or self.organization, self.key)

    async def expire_round(self, caller: Keypair):  # type: ignore[no-untyped-def]
        return await exits.expire_round(self.chain, caller, self.key)

    async def expire_pool(self, caller: Keypair):  # type: ignore[no-untyped-def]
        return await exits.expire_pool(self.chain, caller, self.key)

    async def reclaim(self, caller: Keypair):  # type: ignore[no-untyped-def]
        return await exits.reclaim_funding(self.chain, caller, self.key)

    async def settle(self, trainer: Trainer, caller: Keypair):  # type: ignore[no-untyped-def]
        return await exits.settle_participant(self.chain, caller, self.key, trainer.wallet.pubkey())

    async def new_trainer(self) -> Trainer:
        trainer = Trainer(Keypair(), Keypair())
        await self.chain.airdrop(trainer.wallet.pubkey(), 2 * SOL)
        self.trainers.append(trainer)
        return trainer

    async def join(self, trainer: Trainer, stake: int = SOL // 2):  # type: ignore[no-untyped-def]
        joined = await participant.join_pool(
            self.chain, trainer.wallet, self.key, stake, payout_wallet=trainer.payout.pubkey()
        )
        trainer.secret = joined.secret
        return joined

    def update_for(self, trainer: Trainer) -> Tensors:
        """A small update unique to the trainer (seeded by its wallet)."""
        seed = int.from_bytes(hashlib.sha256(bytes(trainer.wallet.pubkey())).digest()[:8], "little")
        rng = np.random.default_rng(seed)
        return {
            name: (0.01 * rng.standard_normal(shape)).astype(np.float32)
            for name, shape in shapes(self.task).items()
        }

    async def submit(
        self, trainer: Trainer, update: Tensors | participant.PreparedUpdate | None = None
    ):  # type: ignore[no-untyped-def]
        """Commits to `update` (default: the trainer's own); nothing is stored yet."""
        prepared = (
            update
            if isinstance(update, participant.PreparedUpdate)
            else participant.prepare_update(update or self.update_for(trainer))
        )
        trainer.committed = prepared
        return await participant.submit_update(self.chain, trainer.wallet, self.key, prepared, 100)

    async def reveal(
        self,
        trainer: Trainer,
        update: participant.PreparedUpdate | None = None,
        *,
        seal_to: bytes | None = None,
    ):  # type: ignore[no-untyped-def]
        """Stores and reveals the committed update (or `update`, to test a wrong
        one), sealed to `seal_to` in a pool with encrypted updates."""
        prepared = update or trainer.committed
        assert prepared is not None, "commit first"
        return await participant.reveal_update(
            self.chain, self.store, trainer.wallet, self.key, prepared, seal_to=seal_to
        )

    async def judge(
        self,
        trainer: Trainer,
        verdict: Verdict,
        score: int,
        reason: Reason | None = None,
        round_number: int = 1,
    ):  # type: ignore[no-untyped-def]
        """One verdict; the reason defaults to one of the verdict's class."""
        return await operator.judge_submission(
            self.chain,
            self.aggregator,
            self.key,
            round_number,
            trainer.wallet.pubkey(),
            verdict,
            score,
            SCRIPTED_REASON[verdict] if reason is None else reason,
        )

    async def finalize(  # type: ignore[no-untyped-def]
        self, global_model: Tensors, round_number: int = 1, record: bytes = b"scripted round"
    ):
        return await operator.finalize_round(
            self.chain,
            self.store,
            self.aggregator,
            self.key,
            round_number,
            encode_tensors(global_model),
            record,
        )

    async def claim(self, trainer: Trainer, relayer: Keypair):  # type: ignore[no-untyped-def]
        assert trainer.secret is not None
        return await participant.claim_reward(self.chain, relayer, self.key, trainer.secret)

    async def withdraw(self, trainer: Trainer):  # type: ignore[no-untyped-def]
        return await participant.withdraw_stake(self.chain, trainer.wallet, self.key)

    async def close_submission(self, trainer: Trainer, round_number: int = 1):  # type: ignore[no-untyped-def]
        return await participant.close_submission(
            self.chain, trainer.wallet, self.key, round_number
        )

    # --- reads -------------------------------------------------------------
    async def raw(self, key: Pubkey) -> bytes:
        info = await self.chain.get_account(key)
        assert info is not None, f"{key} does not exist"
        return info.data

    async def pool_state(self) -> Pool:
        return await load_pool(self.chain, self.key)

    async def participant_state(self, trainer: Trainer) -> Participant:
        return await load_participant(self.chain, self.key, trainer.wallet.pubkey())

    async def round_state(self, number: int = 1) -> Round:
        found = await find_round(self.chain, self.key, number)
        assert found is not None, f"round {number} does not exist"
        return found

    async def submission_state(self, trainer: Trainer, number: int = 1) -> Submission:
        found = await find_submission(self.chain, self.key, number, trainer.wallet.pubkey())
        assert found is not None, "no submission"
        return found
