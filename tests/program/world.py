"""Fixtures for driving the compiled program in LiteSVM.

`PoolWorld` knows how to build a valid call of every instruction, so negative
tests only change the one thing they are about.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client_kit.accounts import Participant, Pool, Round, Submission, decode_account
from client_kit.errors import FedstakeProgramError
from client_kit.gateway.embedded import EmbeddedGateway
from client_kit.instructions import FedstakeInstructions, PoolParams
from client_kit.keys import generate_salt, payout_commitment

SOL = 1_000_000_000
FEE = 5_000  # lamports per signature
START = 1_700_000_000
INITIAL_HASH = hashlib.sha256(b"initial model").digest()
INITIAL_CID = "bafkreiinitialmodelcid"
TASK_CID = "bafkreitaskpackagecid"


@dataclass
class Trainer:
    wallet: Keypair
    payout: Keypair
    salt: bytes


@dataclass
class PoolWorld:
    chain: EmbeddedGateway
    ix: FedstakeInstructions
    organization: Keypair
    aggregator: Keypair
    pool_id: int = 1
    trainers: list[Trainer] = field(default_factory=list)

    @property
    def pool(self) -> Pubkey:
        return self.ix.pool(self.organization.pubkey(), self.pool_id)

    @property
    def vault(self) -> Pubkey:
        return self.ix.vault(self.pool)

    def params(self, **overrides: object) -> PoolParams:
        values: dict[str, object] = dict(
            pool_id=self.pool_id,
            aggregator=self.aggregator.pubkey(),
            task_cid=TASK_CID,
            initial_model_hash=INITIAL_HASH,
            initial_model_cid=INITIAL_CID,
            max_rounds=2,
            round_duration=600,
            join_deadline=START + 3_600,
            min_stake=SOL // 10,
            max_participants=5,
            reward_per_round=SOL,
            slash_bps=5_000,
        )
        values.update(overrides)
        return PoolParams(**values)  # type: ignore[arg-type]

    def send(self, instructions: list, *signers: Keypair):
        return self.chain.send_sync(instructions, list(signers))

    def create(self, **overrides: object) -> None:
        self.send(
            [self.ix.create_pool(self.organization.pubkey(), self.params(**overrides))],
            self.organization,
        )

    def fund(self, amount: int = 2 * SOL) -> None:
        self.send(
            [self.ix.fund_pool(self.organization.pubkey(), self.pool, amount)], self.organization
        )

    def new_trainer(self) -> Trainer:
        trainer = Trainer(Keypair(), Keypair(), generate_salt())
        self.chain.svm.airdrop(trainer.wallet.pubkey(), 5 * SOL)
        self.trainers.append(trainer)
        return trainer

    def join(self, trainer: Trainer, stake: int = SOL // 2) -> None:
        self.send(
            [
                self.ix.join_pool(
                    trainer.wallet.pubkey(),
                    self.pool,
                    stake,
                    payout_commitment(trainer.payout.pubkey(), trainer.salt),
                )
            ],
            trainer.wallet,
        )

    def start(self) -> None:
        self.send(
            [self.ix.start_training(self.organization.pubkey(), self.pool)], self.organization
        )

    def submit(
        self, trainer: Trainer, round_number: int = 1, base: bytes | None = None, tag: bytes = b"u"
    ):
        return self.send(
            [
                self.ix.submit_update(
                    trainer.wallet.pubkey(),
                    self.pool,
                    round_number,
                    update_hash=hashlib.sha256(tag + bytes(trainer.wallet.pubkey())).digest(),
                    update_cid="bafkreiupdate",
                    num_samples=100,
                    base_model_hash=base
                    if base is not None
                    else self.pool_state().global_model_hash,
                )
            ],
            trainer.wallet,
        )

    def judge(self, trainer: Trainer, accepted: bool, score: int, round_number: int = 1):
        return self.send(
            [
                self.ix.judge_submission(
                    self.aggregator.pubkey(),
                    self.pool,
                    round_number,
                    trainer.wallet.pubkey(),
                    accepted=accepted,
                    score=score,
                    reason=0 if accepted else 3,
                )
            ],
            self.aggregator,
        )

    def finalize(self, round_number: int = 1, tag: bytes = b"global"):
        return self.send(
            [
                self.ix.finalize_round(
                    self.aggregator.pubkey(),
                    self.pool,
                    round_number,
                    hashlib.sha256(tag + round_number.to_bytes(4, "little")).digest(),
                    f"bafkreiglobal{round_number}",
                )
            ],
            self.aggregator,
        )

    def claim(self, trainer: Trainer, relayer: Keypair | None = None):
        relayer = relayer or self.organization
        return self.send(
            [
                self.ix.claim_reward(
                    self.pool, trainer.wallet.pubkey(), trainer.payout.pubkey(), trainer.salt
                )
            ],
            relayer,
        )

    def withdraw(self, trainer: Trainer):
        return self.send(
            [self.ix.withdraw_stake(trainer.wallet.pubkey(), self.pool)], trainer.wallet
        )

    # --- reads -----------------------------------------------------------
    def raw(self, key: Pubkey) -> bytes | None:
        account = self.chain.svm.get_account(key)
        return None if account is None else bytes(account.data)

    def lamports(self, key: Pubkey) -> int:
        return self.chain.svm.get_balance(key) or 0

    def pool_state(self) -> Pool:
        return decode_account(Pool, self.raw(self.pool))

    def participant_state(self, trainer: Trainer) -> Participant:
        return decode_account(
            Participant, self.raw(self.ix.participant(self.pool, trainer.wallet.pubkey()))
        )

    def round_state(self, number: int) -> Round:
        return decode_account(Round, self.raw(self.ix.round(self.pool, number)))

    def submission_state(self, trainer: Trainer, number: int = 1) -> Submission:
        return decode_account(
            Submission, self.raw(self.ix.submission(self.pool, number, trainer.wallet.pubkey()))
        )

    def snapshot(self, *keys: Pubkey) -> dict[str, tuple[int, bytes | None]]:
        """Lamports and data of the given accounts (for 'nothing changed' checks)."""
        keys = keys or self.default_keys()
        return {str(k): (self.lamports(k), self.raw(k)) for k in keys}

    def default_keys(self) -> tuple[Pubkey, ...]:
        keys = [self.pool, self.vault, self.organization.pubkey(), self.aggregator.pubkey()]
        for t in self.trainers:
            keys += [
                t.wallet.pubkey(),
                t.payout.pubkey(),
                self.ix.participant(self.pool, t.wallet.pubkey()),
            ]
            for r in (1, 2):
                keys += [
                    self.ix.submission(self.pool, r, t.wallet.pubkey()),
                    self.ix.round(self.pool, r),
                ]
        return tuple(keys)


def expect_error(world: PoolWorld, name: str, action, *keys: Pubkey) -> FedstakeProgramError:
    """Runs `action`, asserts it fails with program error `name`, and that no
    watched account changed (lamports or data)."""
    before = world.snapshot(*keys)
    with pytest.raises(FedstakeProgramError) as caught:
        action()
    assert caught.value.name == name, f"expected {name}, got {caught.value}"
    after = world.snapshot(*keys)
    changed = {k for k in before if before[k] != after[k]}
    # The only allowed change: the fee payer paid one signature fee.
    fee_payers = {
        k for k in changed if after[k][1] == before[k][1] and before[k][0] - after[k][0] == FEE
    }
    assert changed <= fee_payers and len(fee_payers) <= 1, (
        "state changed although the transaction failed"
    )
    return caught.value


@pytest.fixture
def world() -> PoolWorld:
    chain = EmbeddedGateway(start_time=START)
    organization, aggregator = Keypair(), Keypair()
    chain.svm.airdrop(organization.pubkey(), 100 * SOL)
    chain.svm.airdrop(aggregator.pubkey(), 10 * SOL)
    return PoolWorld(chain, FedstakeInstructions(), organization, aggregator)


@pytest.fixture
def training_world(world: PoolWorld) -> PoolWorld:
    """A funded pool in round 1 with three joined trainers."""
    world.create()
    world.fund()
    for _ in range(3):
        world.join(world.new_trainer())
    world.start()
    return world
