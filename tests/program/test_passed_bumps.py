"""Bumps the program takes instead of searching for them.

Round 1's bump is found by `create_pool` and stored in the pool; later rounds'
bumps are passed to `finalize_round`, and submissions' to `submit_update`, and
checked (address and off the curve), not searched. The program's
`finalize_round` and `submit_update` docs argue why a bump that is not
canonical cannot give a round or a submission a second account; these tests
hold them to that (and to the operator still finding such a submission).
"""

from __future__ import annotations

import asyncio
import hashlib
import struct

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

from client_kit import pda
from client_kit.accounts import Round, decode_account
from client_kit.actions.reads import find_submission
from client_kit.enums import Reason, Verdict
from tests.program.world import PoolWorld, expect_error

NEXT_ROUND = 3  # finalize_round's account index of the next round


def _raw_pda(world: PoolWorld, seeds: bytes, bump: int) -> Pubkey:
    """`sha256(seeds ‖ bump ‖ program ‖ marker)`: the runtime's PDA formula
    without its off-curve test, so on-curve candidates can be built too."""
    digest = hashlib.sha256(
        seeds + bytes([bump]) + bytes(world.ix.program_id) + b"ProgramDerivedAddress"
    ).digest()
    return Pubkey.from_bytes(digest)


def _address(world: PoolWorld, number: int, bump: int) -> Pubkey:
    return _raw_pda(world, b"round" + bytes(world.pool) + struct.pack("<I", number), bump)


def _bumps(world: PoolWorld, number: int, *, on_curve: bool) -> list[int]:
    """Every bump of round `number` whose address is (or is not) on the curve."""
    return [b for b in range(256) if _address(world, number, b).is_on_curve() == on_curve]


def _judged(world: PoolWorld) -> None:
    world.commit_and_reveal(world.trainers)
    for t in world.trainers:
        world.judge(t, Verdict.ACCEPTED, 3_000)


def _finalize(world: PoolWorld, bump: int, address: Pubkey) -> Instruction:
    ix = world.ix.finalize_round(
        world.aggregator.pubkey(),
        world.pool,
        1,
        b"\x01" * 32,
        "bafkreiglobal",
        "bafkreirecord",
        next_round_bump=bump,
    )
    metas = list(ix.accounts)
    metas[NEXT_ROUND] = AccountMeta(address, False, True)
    return Instruction(ix.program_id, bytes(ix.data), metas)


def test_create_pool_stores_round_one_canonical_bump(training_world: PoolWorld) -> None:
    w = training_world
    _, canonical = pda.round_address(w.ix.program_id, w.pool, 1)
    assert w.pool_state().first_round_bump == canonical
    assert w.round_state(1).bump == canonical


def test_a_bump_that_does_not_give_the_account_is_refused(training_world: PoolWorld) -> None:
    # Given a judged round 1 and round 2's canonical address
    w = training_world
    _judged(w)
    address, canonical = pda.round_address(w.ix.program_id, w.pool, 2)
    # When the aggregator passes another bump with that address
    wrong = _finalize(w, (canonical - 1) % 256, address)
    # Then it is refused by name and nothing changes
    expect_error(w, "InvalidPda", lambda: w.send([wrong], w.aggregator), address)


def test_a_bump_on_the_curve_is_refused(training_world: PoolWorld) -> None:
    # Given an address of round 2's seeds that lies on the curve (not a PDA)
    w = training_world
    _judged(w)
    bump = _bumps(w, 2, on_curve=True)[0]
    address = _address(w, 2, bump)
    # When the aggregator passes it with its bump
    # Then it is refused by name and nothing changes
    expect_error(
        w, "InvalidPda", lambda: w.send([_finalize(w, bump, address)], w.aggregator), address
    )


def test_a_non_canonical_bump_still_gives_round_two_one_account(
    training_world: PoolWorld,
) -> None:
    # Given a judged round 1 and an off-curve bump of round 2 below the canonical one
    w = training_world
    _judged(w)
    canonical_address, canonical = pda.round_address(w.ix.program_id, w.pool, 2)
    bump = next(b for b in _bumps(w, 2, on_curve=False) if b < canonical)
    address = _address(w, 2, bump)
    # When the aggregator finalizes with it
    w.send([_finalize(w, bump, address)], w.aggregator)
    # Then round 2 lives there, with that bump stored
    opened = decode_account(Round, w.raw(address))
    assert (opened.round, opened.bump) == (2, bump)
    assert w.pool_state().round == 2
    # And no second round 2 can follow, canonical or not: round 1 is finalized
    # and the pool's counter has moved on
    for retry_bump, retry_address in ((canonical, canonical_address), (bump, address)):
        expect_error(
            w,
            "RoundAlreadyFinalized",
            lambda b=retry_bump, a=retry_address: w.send([_finalize(w, b, a)], w.aggregator),
            canonical_address,
        )
    assert w.raw(canonical_address) is None


# --- submissions -------------------------------------------------------------------

SUBMISSION = 4  # submit_update's account index of the submission


def _submission_address(world: PoolWorld, wallet: Pubkey, bump: int) -> Pubkey:
    seeds = b"submission" + bytes(world.pool) + struct.pack("<I", 1) + bytes(wallet)
    return _raw_pda(world, seeds, bump)


def _submit(world: PoolWorld, trainer, bump: int, address: Pubkey) -> Instruction:  # type: ignore[no-untyped-def]
    ix = world.ix.submit_update(
        trainer.wallet.pubkey(),
        world.pool,
        1,
        update_commitment=world.commitment(trainer),
        num_samples=100,
        base_model_hash=world.pool_state().global_model_hash,
    )
    metas = list(ix.accounts)
    metas[SUBMISSION] = AccountMeta(address, False, True)
    return Instruction(ix.program_id, bytes(ix.data)[:-1] + bytes([bump]), metas)


def test_a_submission_bump_that_does_not_give_the_account_is_refused(
    training_world: PoolWorld,
) -> None:
    w = training_world
    t = w.trainers[0]
    address, canonical = pda.submission_address(w.ix.program_id, w.pool, 1, t.wallet.pubkey())
    wrong = _submit(w, t, (canonical + 1) % 256, address)
    expect_error(w, "InvalidPda", lambda: w.send([wrong], t.wallet), address)


def test_a_submission_bump_on_the_curve_is_refused(training_world: PoolWorld) -> None:
    w = training_world
    t = w.trainers[0]
    bump = next(b for b in range(256) if _submission_address(w, t.wallet.pubkey(), b).is_on_curve())
    address = _submission_address(w, t.wallet.pubkey(), bump)
    expect_error(w, "InvalidPda", lambda: w.send([_submit(w, t, bump, address)], t.wallet), address)


def test_a_non_canonical_submission_is_the_only_one_and_is_judged(
    training_world: PoolWorld,
) -> None:
    # Given a participant that commits at an off-curve bump below the canonical one
    w = training_world
    t = w.trainers[0]
    wallet = t.wallet.pubkey()
    canonical_address, canonical = pda.submission_address(w.ix.program_id, w.pool, 1, wallet)
    bump = next(
        b
        for b in range(canonical - 1, -1, -1)
        if not _submission_address(w, wallet, b).is_on_curve()
    )
    address = _submission_address(w, wallet, bump)
    w.send([_submit(w, t, bump, address)], t.wallet)
    assert w.participant_state(t).last_round == 1
    assert w.round_state(1).submission_count == 1
    # Then a second commitment for the round is refused by name, at either address
    for retry_bump, retry_address in ((canonical, canonical_address), (bump, address)):
        expect_error(
            w,
            "AlreadySubmitted",
            lambda b=retry_bump, a=retry_address: w.send([_submit(w, t, b, a)], t.wallet),
            canonical_address,
            address,
        )
    assert w.raw(canonical_address) is None
    # And the operator finds it (its canonical address is empty) and judges it
    # at its stored bump once the reveal phase is over
    found = asyncio.run(find_submission(w.chain, w.pool, 1, wallet))
    assert found is not None and found.bump == bump
    w.set_time(w.round_state(1).reveal_deadline)
    judge = w.ix.judge_submission(
        w.aggregator.pubkey(),
        w.pool,
        1,
        wallet,
        verdict=Verdict.SLASHED,
        score=0,
        reason=int(Reason.NOT_REVEALED),
        submission_bump=found.bump,
    )
    w.send([judge], w.aggregator)
    judged = asyncio.run(find_submission(w.chain, w.pool, 1, wallet))
    assert judged is not None and judged.verdict is Verdict.SLASHED
