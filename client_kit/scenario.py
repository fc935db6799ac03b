"""A pool driven step by step through the async `ChainGateway` interface.

One scripted pool life shared by the gateway tests (embedded and rpc) and the
compute-unit benchmark: every step builds its instruction with
`FedstakeInstructions` and returns the `TxResult`.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client_kit.accounts import Participant, Pool, Round, Submission, decode_account
from client_kit.gateway.base import ChainGateway, TxResult
from client_kit.instructions import FedstakeInstructions, PoolParams
from client_kit.keys import generate_salt, payout_commitment
from client_kit.protocol import Reason, Verdict

SOL = 1_000_000_000
INITIAL_HASH = hashlib.sha256(b"initial model").digest()
# The reason a scripted verdict gives when none is named (one of its class).
SCRIPTED_REASON = {
    Verdict.PENDING: Reason.OK,
    Verdict.ACCEPTED: Reason.OK,
    Verdict.EXCLUDED: Reason.ROBUST_RULE,
    Verdict.SLASHED: Reason.MALFORMED,
}
_pool_ids = itertools.count(1)


def update_hash(trainer: Trainer) -> bytes:
    return hashlib.sha256(b"update" + bytes(trainer.wallet.pubkey())).digest()


@dataclass
class Trainer:
    wallet: Keypair
    payout: Keypair
    salt: bytes


@dataclass
class AsyncPool:
    chain: ChainGateway
    organization: Keypair = field(default_factory=Keypair)
    aggregator: Keypair = field(default_factory=Keypair)
    pool_id: int = field(default_factory=lambda: next(_pool_ids))
    trainers: list[Trainer] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ix = FedstakeInstructions(self.chain.program_id)

    @property
    def pool(self) -> Pubkey:
        return self.ix.pool(self.organization.pubkey(), self.pool_id)

    def participant(self, trainer: Trainer) -> Pubkey:
        return self.ix.participant(self.pool, trainer.wallet.pubkey())

    async def setup(self) -> None:
        await self.chain.airdrop(self.organization.pubkey(), 20 * SOL)
        await self.chain.airdrop(self.aggregator.pubkey(), 2 * SOL)

    async def send(self, instruction, *signers: Keypair) -> TxResult:  # type: ignore[no-untyped-def]
        return await self.chain.send([instruction], list(signers))

    async def create(self, **overrides: object) -> TxResult:
        now = await self.chain.unix_time()
        values: dict[str, object] = dict(
            pool_id=self.pool_id,
            aggregator=self.aggregator.pubkey(),
            task_cid="bafkreitaskpackagecid",
            initial_model_hash=INITIAL_HASH,
            initial_model_cid="bafkreiinitialmodelcid",
            max_rounds=1,
            round_duration=600,
            join_deadline=now + 3_600,
            min_stake=SOL // 10,
            max_participants=5,
            reward_per_round=SOL,
            slash_bps=5_000,
        )
        values.update(overrides)
        return await self.send(
            self.ix.create_pool(self.organization.pubkey(), PoolParams(**values)),  # type: ignore[arg-type]
            self.organization,
        )

    async def fund(self, amount: int) -> TxResult:
        return await self.send(
            self.ix.fund_pool(self.organization.pubkey(), self.pool, amount), self.organization
        )

    async def new_trainer(self, wallet: Keypair | None = None) -> Trainer:
        """A funded trainer (2 SOL); `wallet` defaults to a fresh random key."""
        trainer = Trainer(wallet or Keypair(), Keypair(), generate_salt())
        await self.chain.airdrop(trainer.wallet.pubkey(), 2 * SOL)
        self.trainers.append(trainer)
        return trainer

    async def join(self, trainer: Trainer, stake: int = SOL // 2) -> TxResult:
        return await self.send(
            self.ix.join_pool(
                trainer.wallet.pubkey(),
                self.pool,
                stake,
                payout_commitment(trainer.payout.pubkey(), trainer.salt),
            ),
            trainer.wallet,
        )

    async def start(self) -> TxResult:
        return await self.send(
            self.ix.start_training(self.organization.pubkey(), self.pool), self.organization
        )

    async def submit(self, trainer: Trainer, round_number: int = 1) -> TxResult:
        """Commits to the trainer's update (hash only)."""
        pool = await self.pool_state()
        return await self.send(
            self.ix.submit_update(
                trainer.wallet.pubkey(),
                self.pool,
                round_number,
                update_hash=update_hash(trainer),
                num_samples=100,
                base_model_hash=pool.global_model_hash,
            ),
            trainer.wallet,
        )

    async def reveal(self, trainer: Trainer, round_number: int = 1) -> TxResult:
        return await self.send(
            self.ix.reveal_update(trainer.wallet.pubkey(), self.pool, round_number, "bafkupdate"),
            trainer.wallet,
        )

    async def judge(
        self,
        trainer: Trainer,
        verdict: Verdict,
        score: int,
        reason: Reason | None = None,
        round_number: int = 1,
    ) -> TxResult:
        """One verdict; the reason defaults to OK / robust_rule / malformed by class."""
        if reason is None:
            reason = SCRIPTED_REASON[verdict]
        return await self.send(
            self.ix.judge_submission(
                self.aggregator.pubkey(),
                self.pool,
                round_number,
                trainer.wallet.pubkey(),
                verdict=verdict,
                score=score,
                reason=int(reason),
            ),
            self.aggregator,
        )

    async def finalize(self, global_hash: bytes, round_number: int = 1) -> TxResult:
        return await self.send(
            self.ix.finalize_round(
                self.aggregator.pubkey(), self.pool, round_number, global_hash, "bafkg1"
            ),
            self.aggregator,
        )

    async def expire_round(self, caller: Keypair) -> TxResult:
        pool = await self.pool_state()
        return await self.send(self.ix.expire_round(self.pool, pool.round), caller)

    async def expire_pool(self, caller: Keypair) -> TxResult:
        return await self.send(self.ix.expire_pool(self.pool), caller)

    async def reclaim(self, caller: Keypair) -> TxResult:
        return await self.send(
            self.ix.reclaim_funding(self.pool, self.organization.pubkey()), caller
        )

    async def settle(self, trainer: Trainer, caller: Keypair) -> TxResult:
        return await self.send(
            self.ix.settle_participant(self.pool, trainer.wallet.pubkey()), caller
        )

    async def close_pool(self, closer: Keypair | None = None) -> TxResult:
        closer = closer or self.organization
        return await self.send(
            self.ix.close_pool(self.organization.pubkey(), self.pool, closer.pubkey()), closer
        )

    async def claim(self, trainer: Trainer, relayer: Keypair) -> TxResult:
        return await self.send(
            self.ix.claim_reward(
                self.pool, trainer.wallet.pubkey(), trainer.payout.pubkey(), trainer.salt
            ),
            relayer,
        )

    async def withdraw(self, trainer: Trainer) -> TxResult:
        return await self.send(
            self.ix.withdraw_stake(trainer.wallet.pubkey(), self.pool), trainer.wallet
        )

    # --- reads -----------------------------------------------------------
    async def raw(self, key: Pubkey) -> bytes:
        info = await self.chain.get_account(key)
        assert info is not None, f"{key} does not exist"
        return info.data

    async def pool_state(self) -> Pool:
        return decode_account(Pool, await self.raw(self.pool))

    async def participant_state(self, trainer: Trainer) -> Participant:
        return decode_account(Participant, await self.raw(self.participant(trainer)))

    async def round_state(self, number: int = 1) -> Round:
        return decode_account(Round, await self.raw(self.ix.round(self.pool, number)))

    async def submission_state(self, trainer: Trainer, number: int = 1) -> Submission:
        key = self.ix.submission(self.pool, number, trainer.wallet.pubkey())
        return decode_account(Submission, await self.raw(key))
