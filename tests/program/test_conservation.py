"""Lamport conservation and the books, over random pool lives (hypothesis).

A life is a random sequence of steps on one pool with three trainers: the
next natural step of a pool life ("progress"), any instruction with random
arguments, a valid-looking instruction with one account, flag or data byte
mutated, and clock jumps (so joins close, rounds expire, claim windows end).
After every step:

- no lamport is created or destroyed: the accounts' sum changes only by the
  fees the dedicated fee payer paid;
- a failed transaction changed nothing but the fee payer;
- the books hold: pool lamports = rent + total_staked + reward_balance,
  total_staked = Σ live stakes, rewards owed = Σ live unpaid rewards ≤ reward
  balance, live/active participant counts match the accounts.

And every life ends: anyone can expire, settle, reclaim and close the pool,
after which the pool is gone and nothing is owed.
"""

from __future__ import annotations

import hashlib
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client_kit.accounts import Participant, Submission, decode_account
from client_kit.enums import Reason, Verdict
from client_kit.errors import TransactionFailed
from client_kit.gateway.embedded import EmbeddedGateway
from client_kit.instructions import FedstakeInstructions
from tests.program.world import FEE, SOL, START, PoolWorld, Trainer

TRAINERS = 3
VERDICTS = [
    (Verdict.ACCEPTED, Reason.OK),
    (Verdict.EXCLUDED, Reason.ROBUST_RULE),
    (Verdict.SLASHED, Reason.MALFORMED),
    (Verdict.SLASHED, Reason.NOT_REVEALED),
]
KINDS = [
    "join",
    "fund",
    "start",
    "cancel",
    "submit",
    "reveal",
    "judge",
    "finalize",
    "claim",
    "withdraw",
    "close_submission",
    "expire_round",
    "expire_pool",
    "reclaim",
    "settle",
    "close_pool",
]

# Mostly the life's next step, with random calls, mutated calls and clock
# jumps (small ones inside a window, large ones past deadlines) mixed in.
step = st.one_of(
    *[st.tuples(st.just("progress"), st.integers(0, 2**32))] * 6,
    st.tuples(st.just("random"), st.integers(0, 2**32)),
    st.tuples(st.just("mutated"), st.integers(0, 2**32)),
    st.tuples(st.just("time"), st.sampled_from([1, 60, 299, 600, 1_000])),
    st.tuples(st.just("time"), st.sampled_from([1_300, 3_600, 6_000])),
)


class Life:
    """One pool and the bookkeeping the invariants need."""

    def __init__(self) -> None:
        chain = EmbeddedGateway(start_time=START)
        org, agg = Keypair(), Keypair()
        chain.svm.airdrop(org.pubkey(), 100 * SOL)
        chain.svm.airdrop(agg.pubkey(), 10 * SOL)
        self.w = PoolWorld(chain, FedstakeInstructions(), org, agg)
        self.payer = Keypair()
        chain.svm.airdrop(self.payer.pubkey(), 10 * SOL)
        self.stranger = Keypair()
        chain.svm.airdrop(self.stranger.pubkey(), SOL)
        for _ in range(TRAINERS):
            self.w.new_trainer()
        self.w.create(max_rounds=2)
        self.w.fund(2 * SOL)
        self.pool_rent = chain.svm.minimum_balance_for_rent_exemption(len(self.w.raw(self.w.pool)))
        self.total = self.balance_sum()
        self.payer_start = self.w.lamports(self.payer.pubkey())

    # --- sending -----------------------------------------------------------
    def keys(self) -> list[Pubkey]:
        return [*self.w.default_keys(), self.stranger.pubkey()]

    def balance_sum(self) -> int:
        return sum(self.w.lamports(k) for k in dict.fromkeys(self.keys()))

    def send(self, ix: Instruction, *signers: Keypair) -> bool:
        """Sends with the dedicated fee payer; True on success. A failure must
        leave every account as it was (the fee payer pays its fee)."""
        before = self.w.snapshot(self.stranger.pubkey())
        payer_before = self.w.lamports(self.payer.pubkey())
        unique = list(
            {s.pubkey(): s for s in signers if s.pubkey() != self.payer.pubkey()}.values()
        )
        try:
            self.w.send([ix], self.payer, *unique)
        except TransactionFailed:
            assert self.w.snapshot(self.stranger.pubkey()) == before, "a failed call moved state"
            assert payer_before - self.w.lamports(self.payer.pubkey()) == FEE * (1 + len(unique))
            return False
        assert payer_before - self.w.lamports(self.payer.pubkey()) == FEE * (1 + len(unique))
        return True

    # --- reads -------------------------------------------------------------
    def participants(self) -> dict[int, Participant]:
        out = {}
        for i, t in enumerate(self.w.trainers):
            raw = self.w.raw(self.w.ix.participant(self.w.pool, t.wallet.pubkey()))
            if raw:
                out[i] = decode_account(Participant, raw)
        return out

    def pool_exists(self) -> bool:
        return bool(self.w.raw(self.w.pool))

    # --- the invariants ----------------------------------------------------
    def check(self) -> None:
        fees = self.payer_start - self.w.lamports(self.payer.pubkey())
        assert self.balance_sum() == self.total, "lamports created or destroyed"
        assert fees % FEE == 0
        if not self.pool_exists():
            return
        pool = self.w.pool_state()
        participants = self.participants()
        assert (
            self.w.lamports(self.w.pool) == self.pool_rent + pool.total_staked + pool.reward_balance
        )
        assert pool.total_staked == sum(p.stake for p in participants.values())
        assert pool.rewards_owed == sum(p.reward_unpaid for p in participants.values())
        assert 0 <= pool.rewards_owed <= pool.reward_balance
        assert pool.live_participants == len(participants)
        assert pool.active_participants == sum(p.status == "Active" for p in participants.values())

    # --- steps -------------------------------------------------------------
    def trainer(self, rng: random.Random) -> Trainer:
        return rng.choice(self.w.trainers)

    def build(self, kind: str, rng: random.Random) -> tuple[Instruction, list[Keypair]] | None:
        w, ix, t = self.w, self.w.ix, self.trainer(rng)
        pool = w.pool
        number = w.pool_state().round if self.pool_exists() else 1
        number = rng.choice([number, number, max(1, number - 1), number + 1])
        wallet = t.wallet.pubkey()
        who = rng.choice([w.organization, w.aggregator, self.stranger])
        if kind == "join":
            stake = rng.choice([SOL // 10, SOL // 2, SOL, 1])
            commitment = hashlib.sha256(bytes(t.payout.pubkey()) + t.salt).digest()
            return ix.join_pool(wallet, pool, stake, commitment), [t.wallet]
        if kind == "fund":
            return ix.fund_pool(w.organization.pubkey(), pool, rng.choice([1, SOL])), [
                w.organization
            ]
        if kind == "start":
            return ix.start_training(w.organization.pubkey(), pool), [w.organization]
        if kind == "cancel":
            return ix.cancel_pool(w.organization.pubkey(), pool), [w.organization]
        if kind == "submit":
            if not self.pool_exists():
                return None
            base = w.pool_state().global_model_hash
            return (
                ix.submit_update(
                    wallet,
                    pool,
                    number,
                    update_commitment=w.commitment(t, bytes([number])),
                    num_samples=rng.choice([1, 100]),
                    base_model_hash=rng.choice([base, base, b"\x01" * 32]),
                ),
                [t.wallet],
            )
        if kind == "reveal":
            opened = w.update_hash(t, bytes([number]))
            return ix.reveal_update(wallet, pool, number, opened, "bafkreiupdate"), [t.wallet]
        if kind == "judge":
            verdict, reason = rng.choice(VERDICTS)
            score = rng.choice([0, 1_000, 3_333, 5_000, 10_000]) if verdict == 1 else 0
            agg = rng.choice([w.aggregator, w.aggregator, w.aggregator, self.stranger])
            return (
                ix.judge_submission(
                    agg.pubkey(),
                    pool,
                    number,
                    wallet,
                    verdict=verdict,
                    score=score,
                    reason=int(reason),
                ),
                [agg],
            )
        if kind == "finalize":
            agg = rng.choice([w.aggregator, w.aggregator, self.stranger])
            digest = hashlib.sha256(bytes([number])).digest()
            return ix.finalize_round(agg.pubkey(), pool, number, digest, "bafkg", "bafkr"), [agg]
        if kind == "claim":
            payout = rng.choice([t.payout.pubkey(), t.payout.pubkey(), w.pool])
            return ix.claim_reward(pool, wallet, payout, t.salt), []
        if kind == "withdraw":
            return ix.withdraw_stake(wallet, pool), [t.wallet]
        if kind == "close_submission":
            return ix.close_submission(wallet, pool, number), [t.wallet]
        if kind == "expire_round":
            return ix.expire_round(pool, number), []
        if kind == "expire_pool":
            return ix.expire_pool(pool), []
        if kind == "reclaim":
            return ix.reclaim_funding(pool, w.organization.pubkey()), []
        if kind == "settle":
            return ix.settle_participant(pool, wallet), []
        if kind == "close_pool":
            return ix.close_pool(w.organization.pubkey(), pool, who.pubkey()), [who]
        raise AssertionError(kind)

    def progress(self, rng: random.Random) -> None:
        """The next natural step of the life, for a trainer it applies to
        (the program may still refuse it, e.g. after a clock jump)."""
        if not self.pool_exists():
            return
        w, ix = self.w, self.w.ix
        pool = w.pool_state()
        now = w.now()
        joined = self.participants()
        if pool.status == "Open":
            waiting = [t for i, t in enumerate(w.trainers) if i not in joined]
            if waiting and (not joined or rng.random() < 0.7):
                t = rng.choice(waiting)
                commitment = hashlib.sha256(bytes(t.payout.pubkey()) + t.salt).digest()
                self.send(ix.join_pool(t.wallet.pubkey(), w.pool, SOL // 2, commitment), t.wallet)
            else:
                self.send(ix.start_training(w.organization.pubkey(), w.pool), w.organization)
            return
        unpaid = [i for i, p in joined.items() if p.reward_unpaid > 0]
        if unpaid and rng.random() < (0.5 if pool.status != "Training" else 0.15):
            t = w.trainers[rng.choice(unpaid)]
            claim = ix.claim_reward(w.pool, t.wallet.pubkey(), t.payout.pubkey(), t.salt)
            self.send(claim)
            return
        if pool.status != "Training":
            if joined and rng.random() < 0.6:
                t = w.trainers[rng.choice(list(joined))]
                self.send(ix.withdraw_stake(t.wallet.pubkey(), w.pool), t.wallet)
                return
            kind = rng.choice(["reclaim", "close_submission", "settle", "close_pool"])
            built = self.build(kind, rng)
            if built is not None:
                self.send(built[0], *built[1])
            return
        number = pool.round
        round_state = w.round_state(number)
        submissions = {}
        for i, t in enumerate(w.trainers):
            raw = w.raw(ix.submission(w.pool, number, t.wallet.pubkey()))
            if raw:
                submissions[i] = decode_account(Submission, raw)
        active = [i for i, p in joined.items() if p.status == "Active"]
        if not round_state.submissions_closed(now):
            i = rng.choice([i for i in active if i not in submissions] or active)
            t = w.trainers[i]
            update = ix.submit_update(
                t.wallet.pubkey(),
                w.pool,
                number,
                update_commitment=w.commitment(t, bytes([number])),
                num_samples=100,
                base_model_hash=pool.global_model_hash,
            )
            self.send(update, t.wallet)
            return
        unrevealed = [i for i, sub in submissions.items() if not sub.revealed]
        if unrevealed and not round_state.reveals_closed(now) and rng.random() < 0.9:
            t = w.trainers[rng.choice(unrevealed)]
            opened = w.update_hash(t, bytes([number]))
            self.send(
                ix.reveal_update(t.wallet.pubkey(), w.pool, number, opened, "bafkreiu"), t.wallet
            )
            return
        pending = [i for i, sub in submissions.items() if sub.verdict == "Pending"]
        if pending:
            i = rng.choice(pending)
            if submissions[i].revealed:
                verdict, reason = rng.choice(VERDICTS[:3])
            else:
                verdict, reason = Verdict.SLASHED, Reason.NOT_REVEALED
            score = rng.choice([0, 2_000, 3_333]) if verdict == Verdict.ACCEPTED else 0
            judge = ix.judge_submission(
                w.aggregator.pubkey(),
                w.pool,
                number,
                w.trainers[i].wallet.pubkey(),
                verdict=verdict,
                score=score,
                reason=int(reason),
            )
            self.send(judge, w.aggregator)
            return
        digest = hashlib.sha256(bytes([number])).digest()
        finalize = ix.finalize_round(
            w.aggregator.pubkey(), w.pool, number, digest, "bafkg", "bafkr"
        )
        self.send(finalize, w.aggregator)

    def mutate(self, rng: random.Random) -> None:
        built = self.build(rng.choice(KINDS), rng)
        if built is None:
            return
        ix, signers = built
        metas = list(ix.accounts)
        data = bytearray(bytes(ix.data))
        what = rng.choice(["account", "readonly", "data"])
        index = rng.randrange(len(metas))
        if what == "account" and not metas[index].is_signer:
            other = rng.choice(self.keys())
            metas[index] = AccountMeta(other, False, metas[index].is_writable)
        elif what == "readonly":
            metas[index] = AccountMeta(metas[index].pubkey, metas[index].is_signer, False)
        elif len(data) > 8:
            position = rng.randrange(8, len(data))
            data[position] ^= 1 << rng.randrange(8)
        self.send(Instruction(ix.program_id, bytes(data), metas), *signers)

    def run(self, kind: str, arg: int) -> None:
        if kind == "time":
            self.w.advance(arg)
            return
        rng = random.Random(arg)
        if kind == "progress":
            self.progress(rng)
        elif kind == "mutated":
            self.mutate(rng)
        else:
            built = self.build(rng.choice(KINDS), rng)
            if built is not None:
                self.send(built[0], *built[1])

    # --- the end every life can reach ----------------------------------------
    def drain(self) -> None:
        """Anyone, without the organization, aggregator or participants:
        expire, settle everyone after the claim window, reclaim, close."""
        if not self.pool_exists():
            return
        w, ix = self.w, self.w.ix
        pool = w.pool_state()
        if pool.status == "Open":
            w.set_time(max(w.now(), pool.join_deadline + pool.expiry_grace))
            assert self.send(ix.expire_pool(w.pool))
        elif pool.status == "Training":
            w.set_time(max(w.now(), w.round_state(pool.round).expires_at))
            assert self.send(ix.expire_round(w.pool, pool.round))
        pool = w.pool_state()
        w.set_time(max(w.now(), pool.ended_at + pool.claim_window))
        for i in self.participants():
            assert self.send(ix.settle_participant(w.pool, w.trainers[i].wallet.pubkey()))
        if w.pool_state().reclaimable > 0:
            assert self.send(ix.reclaim_funding(w.pool, w.organization.pubkey()))
        assert w.pool_state().rewards_owed == 0
        closer = self.stranger.pubkey()
        assert self.send(ix.close_pool(w.organization.pubkey(), w.pool, closer), self.stranger)
        assert w.raw(w.pool) is None


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    st.integers(0, 16),
    st.integers(0, 2**32),
    st.lists(step, min_size=5, max_size=50),
)
def test_random_lives_conserve_lamports_and_always_end(
    head_start: int, seed: int, steps: list[tuple[str, int]]
) -> None:
    life = Life()
    life.check()
    # a head start of undisturbed progress reaches training and later rounds
    for offset in range(head_start):
        life.run("progress", seed + offset)
        life.check()
    for kind, arg in steps:
        life.run(kind, arg)
        life.check()
    life.drain()
    life.check()
