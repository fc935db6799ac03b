"""Bumps the program takes instead of searching for them, and the one it must search.

Round 1's bump is found by `create_pool` and stored in the pool; a submission's
bump is passed to `submit_update` and checked (address and off the curve), not
searched: the program's `submit_update` docs argue why a bump that is not
canonical cannot give a submission a second account, and these tests hold it to
that (and to the operator still finding such a submission). The next round's
bump is *not* passed: `finalize_round` opens round n + 1 only at its canonical
address, the one every client derives, so participants can always reach it
(submit, expire it, get their stakes out) whatever the aggregator does.
"""

from __future__ import annotations

import asyncio
import hashlib
import struct

import pytest
from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

from client_kit import pda
from client_kit.actions.reads import find_round, find_submission
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


def _judged(world: PoolWorld) -> None:
    world.commit_and_reveal(world.trainers)
    for t in world.trainers:
        world.judge(t, Verdict.ACCEPTED, 3_000)


def _finalize(world: PoolWorld, address: Pubkey, trailing: bytes = b"") -> Instruction:
    """The client's `finalize_round` of round 1 with round 2's account replaced by
    `address` and `trailing` appended to its data."""
    ix = world.ix.finalize_round(
        world.aggregator.pubkey(),
        world.pool,
        1,
        b"\x01" * 32,
        "bafkreiglobal",
        "bafkreirecord",
    )
    metas = list(ix.accounts)
    metas[NEXT_ROUND] = AccountMeta(address, False, True)
    return Instruction(ix.program_id, bytes(ix.data) + trailing, metas)


def test_create_pool_stores_round_one_canonical_bump(training_world: PoolWorld) -> None:
    w = training_world
    _, canonical = pda.round_address(w.ix.program_id, w.pool, 1)
    assert w.pool_state().first_round_bump == canonical
    assert w.round_state(1).bump == canonical


@pytest.mark.parametrize("on_curve", [False, True], ids=["off-curve", "on-curve"])
def test_the_next_round_is_refused_anywhere_but_its_canonical_address(
    training_world: PoolWorld, on_curve: bool
) -> None:
    # Given a judged round 1 and another address of round 2's seeds: a valid
    # PDA at a lower bump, or a point on the curve
    w = training_world
    _judged(w)
    canonical_address, canonical = pda.round_address(w.ix.program_id, w.pool, 2)
    bump = next(
        b for b in range(256) if b != canonical and _address(w, 2, b).is_on_curve() == on_curve
    )
    address = _address(w, 2, bump)
    # When the aggregator finalizes with round 2 there
    # Then it is refused by name and nothing changes
    expect_error(
        w,
        "InvalidPda",
        lambda: w.send([_finalize(w, address)], w.aggregator),
        address,
        canonical_address,
    )
    assert w.raw(address) is None and w.raw(canonical_address) is None
    assert w.pool_state().round == 1


def test_a_next_round_bump_argument_is_refused(training_world: PoolWorld) -> None:
    # Given a judged round 1
    w = training_world
    _judged(w)
    canonical_address, canonical = pda.round_address(w.ix.program_id, w.pool, 2)
    bump = next(b for b in range(canonical) if not _address(w, 2, b).is_on_curve())
    # When the aggregator appends a bump to the data (the argument is gone),
    # with either the canonical address or the bump's own
    for address in (canonical_address, _address(w, 2, bump)):
        # Then the data is refused by name and nothing changes
        expect_error(
            w,
            "InvalidInstructionData",
            lambda a=address: w.send([_finalize(w, a, bytes([bump]))], w.aggregator),
            address,
        )


def test_the_next_round_opens_where_every_client_derives_it(
    training_world: PoolWorld,
) -> None:
    # Given a judged round 1
    w = training_world
    _judged(w)
    # When the aggregator finalizes it with the client's instruction
    w.finalize(1)
    # Then round 2 is at its canonical address with the canonical bump stored,
    # and client_kit's `find_round` finds it
    _, canonical = pda.round_address(w.ix.program_id, w.pool, 2)
    assert w.round_state(2).bump == canonical
    found = asyncio.run(find_round(w.chain, w.pool, 2))
    assert found is not None and (found.round, found.bump) == (2, canonical)
    assert w.pool_state().round == 2


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
