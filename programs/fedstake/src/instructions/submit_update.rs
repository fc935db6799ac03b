//! `submit_update` — a participant commits to its update for the open round:
//! once, before the submission deadline, citing the current global model.
//!
//! Only `update_commitment = sha256(update_hash ‖ wallet)` is recorded, where
//! `update_hash` is the SHA-256 of the canonical update bytes. The hash and
//! where the bytes are stored (the CID) are revealed after the submission
//! phase with `reveal_update`, which checks them against the commitment. So
//! nobody can copy a peer's update within a round: the bytes are not
//! readable yet, and a peer's commitment copied verbatim cannot be opened
//! with another wallet.
//!
//! ### Accounts
//! 0. `[WRITE, SIGNER]` wallet (participant's signing key; pays rent)
//! 1. `[]` pool PDA `["pool", pool.organization, pool.pool_id]`
//! 2. `[WRITE]` participant PDA `["participant", pool, wallet]` has_one `pool, wallet`
//! 3. `[WRITE]` round PDA `["round", pool, round]` has_one `pool` (current)
//! 4. `[WRITE]` submission PDA `["submission", pool, round, wallet]` (created)
//! 5. `[]` system program
//!
//! ### Data
//! `round u32, update_commitment [32], num_samples u64, base_model_hash [32],
//! bump u8` (the bump of the submission's PDA; clients pass the canonical one)
//!
//! ### Why the submission's bump may come from the caller
//! A bump that is not canonical would be a problem only if it let the same
//! seeds `["submission", pool, round, wallet]` get a second account (a second
//! commitment, counted twice in the round). It cannot:
//! - Submissions are created only here, for the pool's current round, by the
//!   wallet's participant account (`participant.wallet == wallet`,
//!   `participant.pool == pool`), which is unique per (pool, wallet): it is
//!   created at its canonical address (`join_pool`), only while the pool is
//!   Open, and closed only once the pool has ended, so it is never created
//!   again while the pool trains.
//! - Here that participant must not have committed to this round yet
//!   (`participant.last_round < round`, else `AlreadySubmitted`), and the same
//!   instruction sets `participant.last_round = round`.
//! - Every submission at a pool address belongs to the one pool there that
//!   trained (see `create_pool`: a trained pool's id is retired).
//!
//! The address is still checked (`pda::expect_passed`: seeds, bump, off the
//! curve), and later instructions re-derive it from the stored bump. A
//! submission at a non-canonical address is still found by the operator's
//! program-account scan of the round (`client_kit`'s `find_submission` falls
//! back to it), which judges it at its stored bump.

use super::{args, create_account, load_participant, load_pool, load_round, non_empty};
use crate::{
    errors::FedstakeError,
    events::{self, UpdateSubmitted},
    guards, logic,
    pda::{self, SUBMISSION_SEED},
    state::{pool::CID_LEN, AccountState, ParticipantStatus, PoolStatus, Submission, Verdict},
    syscalls,
};
use pinocchio::{cpi::Seed, ProgramResult};

#[inline(never)]
pub fn process(ix: super::Ix) -> ProgramResult {
    let super::Ix {
        program_id,
        accounts,
        data,
    } = ix;
    let [wallet, pool_account, participant_account, round_account, submission_account, system_program, ..] =
        accounts
    else {
        return Err(FedstakeError::NotEnoughAccounts.into());
    };
    guards::signer(wallet)?;
    guards::writable(wallet)?;
    guards::writable(participant_account)?;
    guards::writable(round_account)?;
    guards::writable(submission_account)?;
    guards::system_program(system_program)?;
    let mut r = args(data);
    let number = r.u32()?;
    let update_commitment: [u8; 32] = r.array()?;
    let num_samples = r.u64()?;
    let base_model_hash: [u8; 32] = r.array()?;
    let bump = r.u8()?;
    r.finish()?;
    non_empty(&update_commitment)?;

    crate::load!(pool = load_pool, (pool_account, program_id));
    let pool_key = *pool_account.address();
    crate::load!(
        participant = load_participant,
        (participant_account, &pool_key, program_id)
    );
    guards::same_key(&participant.wallet, wallet, FedstakeError::AccountMismatch)?;
    crate::load!(
        round = load_round,
        (round_account, &pool_key, number, program_id)
    );
    let wallet_key = *wallet.address();
    let number_le = number.to_le_bytes();
    // Passed, not searched: see "Why the submission's bump may come from the
    // caller" above.
    pda::expect_passed(
        submission_account.address(),
        &[
            SUBMISSION_SEED,
            pool_key.as_ref(),
            &number_le,
            wallet_key.as_ref(),
        ],
        bump,
        program_id,
    )?;
    if pool.status != PoolStatus::Training {
        return Err(FedstakeError::InvalidPoolStatus.into());
    }
    if number != pool.round || round.finalized {
        return Err(FedstakeError::WrongRound.into());
    }
    let now = syscalls::now()?;
    if now >= pool.round_deadline {
        return Err(FedstakeError::RoundDeadlinePassed.into());
    }
    if participant.status != ParticipantStatus::Active {
        return Err(FedstakeError::ParticipantNotActive.into());
    }
    if participant.last_round >= number {
        return Err(FedstakeError::AlreadySubmitted.into());
    }
    if base_model_hash != pool.global_model_hash {
        return Err(FedstakeError::StaleBaseModel.into());
    }
    if num_samples == 0 {
        return Err(FedstakeError::InvalidParameter.into());
    }
    round.submission_count = logic::incr(round.submission_count, 1)?;
    participant.last_round = number;

    let bump_seed = [bump];
    let seeds = [
        Seed::from(SUBMISSION_SEED),
        Seed::from(pool_key.as_ref()),
        Seed::from(&number_le),
        Seed::from(wallet_key.as_ref()),
        Seed::from(&bump_seed),
    ];
    create_account::<Submission>(wallet, submission_account, 0, &seeds, program_id)?;
    Submission {
        pool: pool_key,
        wallet: wallet_key,
        round: number,
        update_commitment,
        update_hash: [0; 32],
        update_cid: [0; CID_LEN],
        num_samples,
        base_model_hash,
        verdict: Verdict::Pending,
        score: 0,
        reason: 0,
        reward: 0,
        slashed: 0,
        revealed: false,
        submitted_at: now,
        revealed_at: 0,
        judged_at: 0,
        bump,
    }
    .store(submission_account)?;
    participant.store(participant_account)?;
    round.store(round_account)?;
    events::emit(&UpdateSubmitted {
        pool: pool_key,
        wallet: wallet_key,
        round: number,
        update_commitment,
        num_samples,
    })
}
