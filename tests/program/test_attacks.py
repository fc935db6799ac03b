"""One negative test per sealevel attack class that applies to fedstake.

Each asserts the named program error and that no watched account changed.
Not applicable: fake sysvar accounts (the program reads Clock and Rent through
syscalls, never from a passed account).
"""

from __future__ import annotations

import hashlib

from solders.account import Account
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client_kit.enums import Verdict
from tests.program.world import SOL, PoolWorld, expect_error


def _with_meta(ix: Instruction, index: int, meta: AccountMeta) -> Instruction:
    metas = list(ix.accounts)
    metas[index] = meta
    return Instruction(ix.program_id, bytes(ix.data), metas)


def test_missing_signer_is_refused(training_world: PoolWorld) -> None:
    w = training_world
    trainer = w.trainers[0]
    ix = w.ix.submit_update(
        trainer.wallet.pubkey(),
        w.pool,
        1,
        update_commitment=b"\x01" * 32,
        num_samples=10,
        base_model_hash=w.pool_state().global_model_hash,
    )
    unsigned = _with_meta(ix, 0, AccountMeta(trainer.wallet.pubkey(), False, True))
    expect_error(w, "MissingSigner", lambda: w.send([unsigned], w.organization))


def test_readonly_account_where_writable_required(training_world: PoolWorld) -> None:
    w = training_world
    ix = w.ix.fund_pool(w.organization.pubkey(), w.pool, SOL)
    readonly_pool = _with_meta(ix, 1, AccountMeta(w.pool, False, False))
    expect_error(w, "AccountNotWritable", lambda: w.send([readonly_pool], w.organization))


def test_has_one_judge_by_non_aggregator(training_world: PoolWorld) -> None:
    w = training_world
    trainer = w.trainers[0]
    w.commit_and_reveal(w.trainers)
    impostor = Keypair()
    w.chain.svm.airdrop(impostor.pubkey(), SOL)
    ix = w.ix.judge_submission(
        impostor.pubkey(),
        w.pool,
        1,
        trainer.wallet.pubkey(),
        verdict=Verdict.ACCEPTED,
        score=10_000,
        reason=0,
    )
    expect_error(w, "Unauthorized", lambda: w.send([ix], impostor))


def test_has_one_start_by_non_organization(world: PoolWorld) -> None:
    world.create()
    world.fund()
    world.join(world.new_trainer())
    stranger = Keypair()
    world.chain.svm.airdrop(stranger.pubkey(), SOL)
    ix = world.ix.start_training(stranger.pubkey(), world.pool)
    expect_error(world, "Unauthorized", lambda: world.send([ix], stranger))


def test_wrong_owner_fake_pool_with_valid_layout(training_world: PoolWorld) -> None:
    w = training_world
    # A byte-perfect copy of the pool, owned by someone else.
    real = w.chain.svm.get_account(w.pool)
    fake_key = Pubkey.new_unique()
    w.chain.svm.set_account(
        fake_key, Account(real.lamports, bytes(real.data), Pubkey.new_unique(), False, 0)
    )
    ix = _with_meta(
        w.ix.fund_pool(w.organization.pubkey(), w.pool, SOL), 1, AccountMeta(fake_key, False, True)
    )
    expect_error(w, "InvalidOwner", lambda: w.send([ix], w.organization), fake_key)


def test_type_cosplay_round_passed_as_participant(training_world: PoolWorld) -> None:
    w = training_world
    trainer = w.trainers[0]
    ix = w.ix.claim_reward(w.pool, trainer.wallet.pubkey(), trainer.payout.pubkey(), trainer.salt)
    cosplay = _with_meta(ix, 1, AccountMeta(w.ix.round(w.pool, 1), False, True))
    expect_error(w, "InvalidAccountData", lambda: w.send([cosplay], w.organization))


def test_type_cosplay_same_length_wrong_discriminator(training_world: PoolWorld) -> None:
    w = training_world
    trainer = w.trainers[0]
    participant_key = w.ix.participant(w.pool, trainer.wallet.pubkey())
    real = w.chain.svm.get_account(participant_key)
    forged = bytearray(bytes(real.data))
    forged[:8] = w.ix.idl.account_discriminator("Round")  # wrong type tag, right size
    w.chain.svm.set_account(
        participant_key, Account(real.lamports, bytes(forged), real.owner, False, 0)
    )
    ix = w.ix.claim_reward(w.pool, trainer.wallet.pubkey(), trainer.payout.pubkey(), trainer.salt)
    expect_error(w, "InvalidDiscriminator", lambda: w.send([ix], w.organization))


def test_reinitialization_join_twice(world: PoolWorld) -> None:
    world.create()
    trainer = world.new_trainer()
    world.join(trainer)
    expect_error(world, "AlreadyInitialized", lambda: world.join(trainer))


def test_reinitialization_create_pool_twice(world: PoolWorld) -> None:
    world.create()
    expect_error(world, "AlreadyInitialized", lambda: world.create(max_rounds=3))


def test_duplicate_mutable_accounts_payout_is_the_pool(training_world: PoolWorld) -> None:
    w = training_world
    trainer = w.trainers[0]
    w.commit_and_reveal(w.trainers)
    w.judge(trainer, Verdict.ACCEPTED, 10_000)
    # the pool as "payout wallet" would pay the pool from itself; try it
    ix = w.ix.claim_reward(w.pool, trainer.wallet.pubkey(), w.pool, trainer.salt)
    expect_error(w, "DuplicateAccount", lambda: w.send([ix], w.organization))


def test_duplicate_mutable_accounts_payout_is_the_participant(training_world: PoolWorld) -> None:
    w = training_world
    trainer = w.trainers[0]
    w.commit_and_reveal(w.trainers)
    w.judge(trainer, Verdict.ACCEPTED, 10_000)
    participant = w.ix.participant(w.pool, trainer.wallet.pubkey())
    ix = w.ix.claim_reward(w.pool, trainer.wallet.pubkey(), participant, trainer.salt)
    expect_error(w, "DuplicateAccount", lambda: w.send([ix], w.organization))


def test_non_canonical_bump_participant_address(world: PoolWorld) -> None:
    world.create()
    trainer = world.new_trainer()
    canonical, bump = Pubkey.find_program_address(
        [b"participant", bytes(world.pool), bytes(trainer.wallet.pubkey())], world.ix.program_id
    )
    other = None
    for candidate in range(bump - 1, -1, -1):
        try:
            other = Pubkey.create_program_address(
                [
                    b"participant",
                    bytes(world.pool),
                    bytes(trainer.wallet.pubkey()),
                    bytes([candidate]),
                ],
                world.ix.program_id,
            )
            break
        except Exception:
            continue
    assert other is not None and other != canonical
    ix = world.ix.join_pool(trainer.wallet.pubkey(), world.pool, SOL // 2, b"\x07" * 32)
    forged = _with_meta(ix, 2, AccountMeta(other, False, True))
    expect_error(world, "InvalidPda", lambda: world.send([forged], trainer.wallet), other)


def test_pda_sharing_participant_of_another_pool(world: PoolWorld) -> None:
    trainer = world.new_trainer()
    world.pool_id = 99
    world.create()
    world.join(trainer)
    other = world.ix.participant(world.pool, trainer.wallet.pubkey())
    world.pool_id = 1
    world.create()
    world.join(trainer)
    world.cancel()
    ix = _with_meta(
        world.ix.withdraw_stake(trainer.wallet.pubkey(), world.pool),
        2,
        AccountMeta(other, False, True),
    )
    expect_error(world, "AccountMismatch", lambda: world.send([ix], trainer.wallet), other)


def test_pda_sharing_participant_of_another_user(training_world: PoolWorld) -> None:
    w = training_world
    victim, thief = w.trainers[0], w.trainers[1]
    ix = w.ix.submit_update(
        thief.wallet.pubkey(),
        w.pool,
        1,
        update_commitment=b"\x02" * 32,
        num_samples=5,
        base_model_hash=w.pool_state().global_model_hash,
    )
    stolen = _with_meta(
        ix, 2, AccountMeta(w.ix.participant(w.pool, victim.wallet.pubkey()), False, True)
    )
    expect_error(w, "AccountMismatch", lambda: w.send([stolen], thief.wallet))


def test_revival_after_close_is_not_ours_anymore(world: PoolWorld) -> None:
    world.create(max_rounds=1)
    world.fund(SOL)
    trainer = world.new_trainer()
    world.join(trainer)
    world.start()
    world.commit_and_reveal([trainer])
    world.judge(trainer, Verdict.ACCEPTED, 10_000)
    world.finalize(1)
    world.claim(trainer)
    participant_key = world.ix.participant(world.pool, trainer.wallet.pubkey())
    # Close the participant and, in the same transaction, send lamports back to it.
    revive = Instruction(
        Pubkey.from_string("11111111111111111111111111111111"),
        bytes([2, 0, 0, 0]) + (5_000_000).to_bytes(8, "little"),
        [
            AccountMeta(trainer.wallet.pubkey(), True, True),
            AccountMeta(participant_key, False, True),
        ],
    )
    world.send(
        [world.ix.withdraw_stake(trainer.wallet.pubkey(), world.pool), revive], trainer.wallet
    )
    revived = world.chain.svm.get_account(participant_key)
    assert revived is not None and revived.owner != world.ix.program_id and len(revived.data) == 0
    expect_error(world, "InvalidOwner", lambda: world.withdraw(trainer))


def test_fake_system_program_is_refused(world: PoolWorld) -> None:
    world.create()
    ix = world.ix.fund_pool(world.organization.pubkey(), world.pool, SOL)
    fake = _with_meta(ix, 2, AccountMeta(world.ix.program_id, False, False))
    expect_error(world, "InvalidSystemProgram", lambda: world.send([fake], world.organization))


def test_arithmetic_overflow_in_funding_requirement(world: PoolWorld) -> None:
    expect_error(
        world, "ArithmeticOverflow", lambda: world.create(reward_per_round=2**63, max_rounds=4)
    )


def test_arithmetic_overflow_in_total_funded(world: PoolWorld) -> None:
    world.create()
    whale = world.organization.pubkey()
    world.chain.svm.set_account(whale, Account(2**64 - 1, b"", Pubkey.default(), False, 0))
    world.fund(2**63)
    expect_error(world, "ArithmeticOverflow", lambda: world.fund(2**63))


def test_wrong_salt_claim_changes_nothing(training_world: PoolWorld) -> None:
    w = training_world
    trainer = w.trainers[0]
    w.commit_and_reveal(w.trainers)
    w.judge(trainer, Verdict.ACCEPTED, 5_000)
    wrong = hashlib.sha256(b"not the salt").digest()
    ix = w.ix.claim_reward(w.pool, trainer.wallet.pubkey(), trainer.payout.pubkey(), wrong)
    expect_error(w, "InvalidCommitment", lambda: w.send([ix], w.organization))


def test_prefunded_participant_address_still_joins_and_books_balance(world: PoolWorld) -> None:
    # Anyone can send lamports to a PDA before it exists; join must still work
    # and the books must still match the pool's lamports.
    world.create()
    pool_before = world.lamports(world.pool)
    for gift in (1_000, 10 * SOL):
        trainer = world.new_trainer()
        key = world.ix.participant(world.pool, trainer.wallet.pubkey())
        world.chain.svm.set_account(key, Account(gift, b"", Pubkey.default(), False, 0))
        world.join(trainer, stake=SOL // 2)
        participant = world.participant_state(trainer)
        assert participant.stake == SOL // 2
        assert world.lamports(key) >= world.chain.svm.minimum_balance_for_rent_exemption(150)
    assert world.lamports(world.pool) == pool_before + SOL
    assert world.pool_state().total_staked == SOL
