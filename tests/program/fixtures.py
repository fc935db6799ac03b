"""One fixture per instruction: how to reach a state where the call is valid,
how to build that call, and what each account swap must fail with.

Generic tests (`test_generic.py`) run against every fixture, the way
solana-program/rewards' integration tests do: drop each required signer, make
each writable account read-only, swap each PDA for another pool's, forge each
program account's owner and discriminator. Setups act on the world's current
pool and use the world's shared trainers, so the same setup run for pool 2
gives the "another pool" whose PDAs are swapped in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from solders.instruction import Instruction
from solders.keypair import Keypair

from client_kit.enums import Verdict
from tests.program.world import SOL, PoolWorld


@dataclass(frozen=True)
class Call:
    instruction: Instruction
    signers: list[Keypair]


@dataclass(frozen=True)
class Fixture:
    name: str
    setup: Callable[[PoolWorld], None]
    call: Callable[[PoolWorld], Call]
    event: str
    # account name -> error when that account is replaced by the same account
    # of another pool in the same state (None: the swap gives a valid call)
    pda_errors: dict[str, str | None] = field(default_factory=dict)
    # account name -> error when a copy of that account owned by another
    # program is passed (default InvalidOwner)
    owner_errors: dict[str, str] = field(default_factory=dict)


# --- states, each building on the previous one ------------------------------


def created(w: PoolWorld) -> None:
    w.create()


def created_one_round(w: PoolWorld) -> None:
    w.create(max_rounds=1)


def joined(w: PoolWorld, one_round: bool = False) -> None:
    w.create(max_rounds=1) if one_round else w.create()
    w.fund()
    w.join(w.trainer(0))
    w.join(w.trainer(1))


def training(w: PoolWorld, one_round: bool = False) -> None:
    joined(w, one_round)
    w.start()


def committed(w: PoolWorld, one_round: bool = False) -> None:
    training(w, one_round)
    w.submit(w.trainer(0))
    w.submit(w.trainer(1))  # everyone eligible committed: reveals open at once


def revealed(w: PoolWorld, one_round: bool = False) -> None:
    committed(w, one_round)
    w.reveal(w.trainer(0))
    w.reveal(w.trainer(1))


def judged(w: PoolWorld, one_round: bool = False) -> None:
    revealed(w, one_round)
    w.judge(w.trainer(0), Verdict.ACCEPTED, 5_000)
    w.judge(w.trainer(1), Verdict.ACCEPTED, 4_000)


def finished(w: PoolWorld) -> None:
    judged(w, one_round=True)
    w.finalize(1)


def emptied(w: PoolWorld) -> None:
    finished(w)
    for t in (w.trainer(0), w.trainer(1)):
        w.claim(t)
        w.withdraw(t)


def round_expiring(w: PoolWorld) -> None:
    training(w)
    w.set_time(max(w.now(), w.round_state(1).expires_at))


def never_started(w: PoolWorld) -> None:
    joined(w)
    state = w.pool_state()
    w.set_time(max(w.now(), state.join_deadline + state.expiry_grace))


def claim_window_over(w: PoolWorld) -> None:
    finished(w)
    state = w.pool_state()
    w.set_time(max(w.now(), state.ended_at + state.claim_window))


# --- calls --------------------------------------------------------------------

# The pool is the call's only pool-dependent account: swapping it for another
# pool in the same state is a valid call on that pool (the organization,
# aggregator and trainers are shared), so it must simply succeed.
ONLY_POOL: dict[str, str | None] = {"pool": None}


def _org(w: PoolWorld) -> Keypair:
    return w.organization


FIXTURES = [
    Fixture(
        "create_pool",
        setup=lambda w: None,
        call=lambda w: Call(
            w.ix.create_pool(w.organization.pubkey(), w.params()), [w.organization]
        ),
        event="PoolCreated",
        pda_errors={"pool": "InvalidPda", "first_round": "InvalidPda"},
    ),
    Fixture(
        "fund_pool",
        setup=created,
        call=lambda w: Call(w.ix.fund_pool(w.organization.pubkey(), w.pool, SOL), [_org(w)]),
        event="PoolFunded",
        pda_errors=ONLY_POOL,
    ),
    Fixture(
        "join_pool",
        setup=created,
        call=lambda w: Call(
            w.ix.join_pool(w.trainer(0).wallet.pubkey(), w.pool, SOL // 2, b"\x05" * 32),
            [w.trainer(0).wallet],
        ),
        event="ParticipantJoined",
        pda_errors={"pool": "InvalidPda", "participant": "InvalidPda"},
    ),
    Fixture(
        "start_training",
        setup=joined,
        call=lambda w: Call(w.ix.start_training(w.organization.pubkey(), w.pool), [_org(w)]),
        event="TrainingStarted",
        pda_errors={"pool": "InvalidPda", "round": "InvalidPda"},
    ),
    Fixture(
        "submit_update",
        setup=training,
        call=lambda w: Call(
            w.ix.submit_update(
                w.trainer(0).wallet.pubkey(),
                w.pool,
                1,
                update_commitment=w.commitment(w.trainer(0)),
                num_samples=10,
                base_model_hash=w.pool_state().global_model_hash,
            ),
            [w.trainer(0).wallet],
        ),
        event="UpdateSubmitted",
        pda_errors={
            "pool": "AccountMismatch",
            "participant": "AccountMismatch",
            "round": "AccountMismatch",
            "submission": "InvalidPda",
        },
    ),
    Fixture(
        "reveal_update",
        setup=committed,
        call=lambda w: Call(
            w.ix.reveal_update(
                w.trainer(0).wallet.pubkey(),
                w.pool,
                1,
                w.update_hash(w.trainer(0)),
                "bafkreirevealed",
            ),
            [w.trainer(0).wallet],
        ),
        event="UpdateRevealed",
        pda_errors={
            "pool": "AccountMismatch",
            "round": "AccountMismatch",
            "submission": "AccountMismatch",
        },
    ),
    Fixture(
        "judge_submission",
        setup=revealed,
        call=lambda w: Call(
            w.ix.judge_submission(
                w.aggregator.pubkey(),
                w.pool,
                1,
                w.trainer(0).wallet.pubkey(),
                verdict=Verdict.ACCEPTED,
                score=5_000,
                reason=0,
            ),
            [w.aggregator],
        ),
        event="SubmissionJudged",
        pda_errors={
            "pool": "AccountMismatch",
            "round": "AccountMismatch",
            "participant": "AccountMismatch",
            "submission": "AccountMismatch",
        },
    ),
    Fixture(
        "finalize_round",
        setup=judged,
        call=lambda w: Call(
            w.ix.finalize_round(
                w.aggregator.pubkey(), w.pool, 1, b"\x07" * 32, "bafkreiglobal", "bafkreirecord"
            ),
            [w.aggregator],
        ),
        event="RoundFinalized",
        pda_errors={
            "pool": "AccountMismatch",
            "round": "AccountMismatch",
            "next_round": "InvalidPda",
        },
    ),
    Fixture(
        "claim_reward",
        setup=judged,
        call=lambda w: Call(
            w.ix.claim_reward(
                w.pool,
                w.trainer(0).wallet.pubkey(),
                w.trainer(0).payout.pubkey(),
                w.trainer(0).salt,
            ),
            [],
        ),
        event="RewardClaimed",
        pda_errors={"pool": "AccountMismatch", "participant": "AccountMismatch"},
    ),
    Fixture(
        "withdraw_stake",
        setup=finished,
        call=lambda w: Call(
            w.ix.withdraw_stake(w.trainer(0).wallet.pubkey(), w.pool), [w.trainer(0).wallet]
        ),
        event="StakeWithdrawn",
        pda_errors={"pool": "AccountMismatch", "participant": "AccountMismatch"},
    ),
    Fixture(
        "cancel_pool",
        setup=joined,
        call=lambda w: Call(w.ix.cancel_pool(w.organization.pubkey(), w.pool), [_org(w)]),
        event="PoolCancelled",
        pda_errors=ONLY_POOL,
    ),
    Fixture(
        "close_submission",
        setup=finished,
        call=lambda w: Call(
            w.ix.close_submission(w.trainer(0).wallet.pubkey(), w.pool, 1), [w.trainer(0).wallet]
        ),
        event="SubmissionClosed",
        pda_errors={"pool": "AccountMismatch", "submission": "AccountMismatch"},
        # the pool is matched against the submission's before it is loaded
        owner_errors={"pool": "AccountMismatch"},
    ),
    Fixture(
        "close_pool",
        setup=emptied,
        call=lambda w: Call(w.ix.close_pool(w.organization.pubkey(), w.pool), [_org(w)]),
        event="PoolClosed",
        pda_errors=ONLY_POOL,
    ),
    Fixture(
        "expire_round",
        setup=round_expiring,
        call=lambda w: Call(w.ix.expire_round(w.pool, 1), []),
        event="RoundExpired",
        pda_errors={"pool": "AccountMismatch", "round": "AccountMismatch"},
    ),
    Fixture(
        "expire_pool",
        setup=never_started,
        call=lambda w: Call(w.ix.expire_pool(w.pool), []),
        event="PoolExpired",
        pda_errors=ONLY_POOL,
    ),
    Fixture(
        "reclaim_funding",
        setup=finished,
        call=lambda w: Call(w.ix.reclaim_funding(w.pool, w.organization.pubkey()), []),
        event="FundingReclaimed",
        pda_errors=ONLY_POOL,
    ),
    Fixture(
        "settle_participant",
        setup=claim_window_over,
        call=lambda w: Call(w.ix.settle_participant(w.pool, w.trainer(0).wallet.pubkey()), []),
        event="ParticipantSettled",
        pda_errors={"pool": "AccountMismatch", "participant": "AccountMismatch"},
    ),
]
BY_NAME = {f.name: f for f in FIXTURES}
