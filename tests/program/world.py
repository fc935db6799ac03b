"""Fixtures for driving the compiled program in LiteSVM.

`PoolWorld` knows how to build a valid call of every instruction, so negative
tests only change the one thing they are about. It can hold several pools of
one organization (`pool_id` selects the current one), which the generic
fixture tests use to swap a PDA for another pool's.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client_kit.accounts import Participant, Pool, Round, Submission, decode_account
from client_kit.canonical import update_commitment
from client_kit.enums import Reason, RewardPolicy, Verdict
from client_kit.errors import FedstakeProgramError
from client_kit.gateway.embedded import EmbeddedGateway
from client_kit.instructions import FedstakeInstructions, PoolParams
from client_kit.keys import generate_salt, payout_commitment
from tests.pools import SCRIPTED_REASON

SOL = 1_000_000_000
FEE = 5_000  # lamports per signature
START = 1_700_000_000
INITIAL_HASH = hashlib.sha256(b"initial model").digest()
INITIAL_CID = "bafkreiinitialmodelcid"
TASK_CID = "bafkreitaskpackagecid"
ROUND_DURATION = 600
REVEAL_DURATION = 300
EXPIRY_GRACE = 1_000
CLAIM_WINDOW = 5_000
JOIN_WINDOW = 3_600


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
    pool_ids: set[int] = field(default_factory=set)

    @property
    def pool(self) -> Pubkey:
        return self.ix.pool(self.organization.pubkey(), self.pool_id)

    # --- clock -----------------------------------------------------------
    def now(self) -> int:
        return self.chain.svm.get_clock().unix_timestamp

    def set_time(self, unix_ts: int) -> None:
        """Moves the clock to `unix_ts` (never backwards: pools share it)."""
        assert unix_ts >= self.now(), "the clock only moves forward"
        self.chain.set_time(unix_ts)

    def advance(self, seconds: int) -> None:
        self.chain.set_time(self.now() + seconds)

    # --- calls -------------------------------------------------------------
    def params(self, **overrides: object) -> PoolParams:
        values: dict[str, object] = dict(
            pool_id=self.pool_id,
            aggregator=self.aggregator.pubkey(),
            task_cid=TASK_CID,
            initial_model_hash=INITIAL_HASH,
            initial_model_cid=INITIAL_CID,
            max_rounds=2,
            round_duration=ROUND_DURATION,
            reveal_duration=REVEAL_DURATION,
            join_deadline=self.now() + JOIN_WINDOW,
            expiry_grace=EXPIRY_GRACE,
            claim_window=CLAIM_WINDOW,
            min_stake=SOL // 10,
            max_participants=5,
            reward_per_round=SOL,
            slash_bps=5_000,
            reward_policy=RewardPolicy.EQUAL,
        )
        values.update(overrides)
        return PoolParams(**values)  # type: ignore[arg-type]

    def send(self, instructions: list, *signers: Keypair):
        return self.chain.send_sync(instructions, list(signers))

    def create(self, **overrides: object):
        self.pool_ids.add(self.pool_id)
        return self.send(
            [self.ix.create_pool(self.organization.pubkey(), self.params(**overrides))],
            self.organization,
        )

    def fund(self, amount: int = 2 * SOL):
        return self.send(
            [self.ix.fund_pool(self.organization.pubkey(), self.pool, amount)], self.organization
        )

    def new_trainer(self) -> Trainer:
        trainer = Trainer(Keypair(), Keypair(), generate_salt())
        self.chain.svm.airdrop(trainer.wallet.pubkey(), 5 * SOL)
        self.trainers.append(trainer)
        return trainer

    def trainer(self, index: int) -> Trainer:
        """The `index`-th trainer, created on first use (shared by every pool)."""
        while len(self.trainers) <= index:
            self.new_trainer()
        return self.trainers[index]

    def join(self, trainer: Trainer, stake: int = SOL // 2):
        return self.send(
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

    def start(self):
        return self.send(
            [self.ix.start_training(self.organization.pubkey(), self.pool)], self.organization
        )

    def update_hash(self, trainer: Trainer, tag: bytes = b"u") -> bytes:
        return hashlib.sha256(tag + bytes(trainer.wallet.pubkey())).digest()

    def commitment(self, trainer: Trainer, tag: bytes = b"u") -> bytes:
        """What `trainer` commits to: sha256(update_hash ‖ wallet)."""
        return update_commitment(self.update_hash(trainer, tag), bytes(trainer.wallet.pubkey()))

    def submit(
        self, trainer: Trainer, round_number: int = 1, base: bytes | None = None, tag: bytes = b"u"
    ):
        return self.send(
            [
                self.ix.submit_update(
                    trainer.wallet.pubkey(),
                    self.pool,
                    round_number,
                    update_commitment=self.commitment(trainer, tag),
                    num_samples=100,
                    base_model_hash=base
                    if base is not None
                    else self.pool_state().global_model_hash,
                )
            ],
            trainer.wallet,
        )

    def reveal(
        self,
        trainer: Trainer,
        round_number: int = 1,
        cid: str = "bafkreiupdate",
        tag: bytes = b"u",
        update_hash: bytes | None = None,
    ):
        """Opens `trainer`'s commitment (made with `tag`), or claims `update_hash`."""
        opened = self.update_hash(trainer, tag) if update_hash is None else update_hash
        return self.send(
            [self.ix.reveal_update(trainer.wallet.pubkey(), self.pool, round_number, opened, cid)],
            trainer.wallet,
        )

    def close_submissions(self, round_number: int = 1) -> None:
        """Moves the clock to the round's submission deadline if not everyone
        eligible committed (otherwise the phase is already closed)."""
        state = self.round_state(round_number)
        if not state.submissions_closed(self.now()):
            self.set_time(state.deadline)

    def commit_and_reveal(self, trainers: list[Trainer], round_number: int = 1) -> None:
        """Every trainer commits, the submission phase closes, every trainer reveals."""
        for t in trainers:
            self.submit(t, round_number)
        self.close_submissions(round_number)
        for t in trainers:
            self.reveal(t, round_number)

    def judge(
        self,
        trainer: Trainer,
        verdict: Verdict = Verdict.ACCEPTED,
        score: int = 0,
        round_number: int = 1,
        reason: int | None = None,
    ):
        if reason is None:
            reason = SCRIPTED_REASON.get(verdict, Reason.OK)
        return self.send(
            [
                self.ix.judge_submission(
                    self.aggregator.pubkey(),
                    self.pool,
                    round_number,
                    trainer.wallet.pubkey(),
                    verdict=verdict,
                    score=score,
                    reason=int(reason),
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
                    f"bafkreirecord{round_number}",
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

    def cancel(self):
        return self.send(
            [self.ix.cancel_pool(self.organization.pubkey(), self.pool)], self.organization
        )

    def close_pool(self, closer: Keypair | None = None):
        closer = closer or self.organization
        return self.send(
            [self.ix.close_pool(self.organization.pubkey(), self.pool, closer.pubkey())], closer
        )

    def expire_round(self, caller: Keypair | None = None):
        return self.send(
            [self.ix.expire_round(self.pool, self.pool_state().round)], caller or self.aggregator
        )

    def expire_pool(self, caller: Keypair | None = None):
        return self.send([self.ix.expire_pool(self.pool)], caller or self.aggregator)

    def reclaim(self, caller: Keypair | None = None):
        return self.send(
            [self.ix.reclaim_funding(self.pool, self.organization.pubkey())],
            caller or self.aggregator,
        )

    def settle(self, trainer: Trainer, caller: Keypair | None = None):
        return self.send(
            [self.ix.settle_participant(self.pool, trainer.wallet.pubkey())],
            caller or self.aggregator,
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

    def snapshot(self, *extra: Pubkey) -> dict[str, tuple[int, bytes | None]]:
        """Lamports and data of every account the world knows, plus `extra`
        (for 'nothing changed' checks)."""
        keys = dict.fromkeys(self.default_keys() + tuple(extra))
        return {str(k): (self.lamports(k), self.raw(k)) for k in keys}

    def default_keys(self) -> tuple[Pubkey, ...]:
        keys = [self.organization.pubkey(), self.aggregator.pubkey()]
        for t in self.trainers:
            keys += [t.wallet.pubkey(), t.payout.pubkey()]
        for pool_id in sorted(self.pool_ids | {self.pool_id}):
            pool = self.ix.pool(self.organization.pubkey(), pool_id)
            keys.append(pool)
            for r in (1, 2, 3):
                keys.append(self.ix.round(pool, r))
            for t in self.trainers:
                keys.append(self.ix.participant(pool, t.wallet.pubkey()))
                for r in (1, 2):
                    keys.append(self.ix.submission(pool, r, t.wallet.pubkey()))
        return tuple(keys)


def expect_error(world: PoolWorld, name: str, action, *keys: Pubkey) -> FedstakeProgramError:
    """Runs `action`, asserts it fails with program error `name`, that the
    program logged Anchor's error line for it, and that no watched account
    changed (lamports or data). `keys` are watched in addition to every account
    the world knows."""
    before = world.snapshot(*keys)
    with pytest.raises(FedstakeProgramError) as caught:
        action()
    error = caught.value
    assert error.name == name, f"expected {name}, got {error}"
    anchor_line = (
        f"Program log: AnchorError occurred. Error Code: {error.name}. "
        f"Error Number: {error.code}. Error Message: {error.msg}."
    )
    assert anchor_line in error.logs, error.logs
    after = world.snapshot(*keys)
    changed = {k for k in before if before[k] != after[k]}
    # The only allowed change: the fee payer paid one signature fee.
    fee_payers = {
        k for k in changed if after[k][1] == before[k][1] and before[k][0] - after[k][0] == FEE
    }
    assert changed <= fee_payers and len(fee_payers) <= 1, (
        f"state changed although the transaction failed: {changed - fee_payers}"
    )
    return error


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
