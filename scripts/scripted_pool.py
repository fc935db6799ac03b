"""One scripted pool life on the embedded SVM, shared by the demo and the
compute-unit benchmark so both exercise the same calls."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client_kit.gateway.base import TxResult
from client_kit.gateway.embedded import EmbeddedGateway
from client_kit.instructions import FedstakeInstructions, PoolParams

SOL = 1_000_000_000
START = 1_700_000_000


@dataclass
class Member:
    name: str
    wallet: Keypair
    payout: Keypair
    salt: bytes
    honest: bool


@dataclass
class ScriptedPool:
    chain: EmbeddedGateway = field(default_factory=lambda: EmbeddedGateway(start_time=START))
    ix: FedstakeInstructions = field(default_factory=FedstakeInstructions)
    organization: Keypair = field(default_factory=Keypair)
    aggregator: Keypair = field(default_factory=Keypair)
    members: list[Member] = field(default_factory=list)
    on_tx: Callable[[str, TxResult], None] = lambda label, result: None

    def __post_init__(self) -> None:
        self.chain.svm.airdrop(self.organization.pubkey(), 20 * SOL)
        self.chain.svm.airdrop(self.aggregator.pubkey(), 2 * SOL)
        self.pool = self.ix.pool(self.organization.pubkey(), 1)
        self.vault = self.ix.vault(self.pool)

    def send(self, label: str, instruction, *signers: Keypair) -> TxResult:
        result = self.chain.send_sync([instruction], list(signers))
        self.on_tx(label, result)
        return result

    def balance(self, key: Pubkey) -> int:
        return self.chain.svm.get_balance(key) or 0

    def create_and_fund(self, reward_per_round: int = SOL, max_rounds: int = 1) -> None:
        params = PoolParams(
            pool_id=1,
            aggregator=self.aggregator.pubkey(),
            task_cid="bafkreidemotaskpackage",
            initial_model_hash=hashlib.sha256(b"initial weights").digest(),
            initial_model_cid="bafkreidemoinitialweights",
            max_rounds=max_rounds,
            round_duration=600,
            join_deadline=START + 3600,
            min_stake=SOL // 10,
            max_participants=10,
            reward_per_round=reward_per_round,
            slash_bps=5_000,
        )
        self.send(
            "create_pool",
            self.ix.create_pool(self.organization.pubkey(), params),
            self.organization,
        )
        self.send(
            "fund_pool",
            self.ix.fund_pool(self.organization.pubkey(), self.pool, reward_per_round * max_rounds),
            self.organization,
        )

    def join(self, name: str, honest: bool, stake: int = SOL // 2) -> Member:
        member = Member(
            name, Keypair(), Keypair(), hashlib.sha256(bytes(Keypair())).digest(), honest
        )
        self.chain.svm.airdrop(member.wallet.pubkey(), 2 * SOL)
        commitment = hashlib.sha256(bytes(member.payout.pubkey()) + member.salt).digest()
        self.send(
            "join_pool",
            self.ix.join_pool(member.wallet.pubkey(), self.pool, stake, commitment),
            member.wallet,
        )
        self.members.append(member)
        return member

    def start(self) -> None:
        self.send(
            "start_training",
            self.ix.start_training(self.organization.pubkey(), self.pool),
            self.organization,
        )

    def submit(
        self, member: Member, round_number: int, base_hash: bytes, update_hash: bytes, cid: str
    ) -> None:
        self.send(
            "submit_update",
            self.ix.submit_update(
                member.wallet.pubkey(),
                self.pool,
                round_number,
                update_hash=update_hash,
                update_cid=cid,
                num_samples=100,
                base_model_hash=base_hash,
            ),
            member.wallet,
        )

    def judge(
        self, member: Member, round_number: int, accepted: bool, score: int, reason: int
    ) -> None:
        self.send(
            "judge_submission",
            self.ix.judge_submission(
                self.aggregator.pubkey(),
                self.pool,
                round_number,
                member.wallet.pubkey(),
                accepted=accepted,
                score=score,
                reason=reason,
            ),
            self.aggregator,
        )

    def finalize(self, round_number: int, global_hash: bytes, cid: str) -> None:
        self.send(
            "finalize_round",
            self.ix.finalize_round(
                self.aggregator.pubkey(), self.pool, round_number, global_hash, cid
            ),
            self.aggregator,
        )

    def claim(self, member: Member, relayer: Keypair) -> None:
        self.send(
            "claim_reward",
            self.ix.claim_reward(
                self.pool, member.wallet.pubkey(), member.payout.pubkey(), member.salt
            ),
            relayer,
        )

    def withdraw(self, member: Member) -> None:
        self.send(
            "withdraw_stake",
            self.ix.withdraw_stake(member.wallet.pubkey(), self.pool),
            member.wallet,
        )

    def close_submission(self, member: Member, round_number: int) -> None:
        self.send(
            "close_submission",
            self.ix.close_submission(member.wallet.pubkey(), self.pool, round_number),
            member.wallet,
        )

    def close_pool(self) -> None:
        self.send(
            "close_pool",
            self.ix.close_pool(self.organization.pubkey(), self.pool),
            self.organization,
        )
