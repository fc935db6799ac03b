//! `start_training` — the organization closes joining and opens round 1.
//!
//! Refused from `join_deadline + expiry_grace` on: from then the pool can
//! only be expired (`expire_pool`), so the two never race.
//!
//! ### Accounts
//! 0. `[WRITE, SIGNER]` organization (pays the round account's rent)
//! 1. `[WRITE]` pool PDA `["pool", pool.organization, pool.pool_id]` has_one `organization`
//! 2. `[WRITE]` round PDA `["round", pool, 1u32]` (created)
//! 3. `[]` system program
//!
//! ### Data
//! none

use super::{args, create_account, load_pool};
use crate::{
    errors::FedstakeError,
    events::{self, TrainingStarted},
    guards, logic,
    pda::{self, ROUND_SEED},
    state::{AccountState, PoolStatus, Round},
    syscalls,
};
use pinocchio::{cpi::Seed, error::ProgramError, Address, ProgramResult};

#[inline(never)]
pub fn process(ix: super::Ix) -> ProgramResult {
    let super::Ix {
        program_id,
        accounts,
        data,
    } = ix;
    let [organization, pool_account, round_account, system_program, ..] = accounts else {
        return Err(FedstakeError::NotEnoughAccounts.into());
    };
    guards::signer(organization)?;
    guards::writable(organization)?;
    guards::writable(pool_account)?;
    guards::writable(round_account)?;
    guards::system_program(system_program)?;
    args(data).finish()?;

    crate::load!(pool = load_pool, (pool_account, program_id));
    guards::same_key(
        &pool.organization,
        organization,
        FedstakeError::Unauthorized,
    )?;
    let pool_key = *pool_account.address();
    let first = 1u32.to_le_bytes();
    // Round 1 at the canonical bump `create_pool` found and stored: one hash,
    // no search. Canonical matters here: `create_pool` refuses a pool id whose
    // round 1 exists at that address, so a pool address never gets a second
    // incarnation once it trained, and every later round (opened by
    // `finalize_round` at its canonical address) belongs to this one incarnation.
    let bump = pool.first_round_bump;
    pda::expect(
        round_account.address(),
        &[ROUND_SEED, pool_key.as_ref(), &first],
        bump,
        program_id,
    )?;
    if pool.status != PoolStatus::Open {
        return Err(FedstakeError::InvalidPoolStatus.into());
    }
    let now = syscalls::now()?;
    if now >= logic::deadline(pool.join_deadline, pool.expiry_grace)? {
        return Err(FedstakeError::ExpiryReached.into());
    }
    if pool.active_participants == 0 {
        return Err(FedstakeError::NoParticipants.into());
    }
    let required = logic::required_funding(pool.reward_per_round, pool.max_rounds)?;
    if pool.reward_balance()? < required {
        return Err(FedstakeError::InsufficientFunding.into());
    }
    pool.status = PoolStatus::Training;
    pool.round = 1;
    let round = open_round(pool, &pool_key, 1, now, bump)?;
    pool.round_deadline = round.deadline;

    let bump_seed = [bump];
    let seeds = [
        Seed::from(ROUND_SEED),
        Seed::from(pool_key.as_ref()),
        Seed::from(&first),
        Seed::from(&bump_seed),
    ];
    create_account::<Round>(organization, round_account, 0, &seeds, program_id)?;
    round.store(round_account)?;
    pool.store(pool_account)?;
    events::emit(&TrainingStarted {
        pool: pool_key,
        round: 1,
        deadline: round.deadline,
        reveal_deadline: round.reveal_deadline,
        expires_at: round.expires_at,
    })
}

/// A fresh round record opened at `now` on `pool`'s global model: submissions
/// until `now + round_duration`, reveals for `reveal_duration` more, and
/// `expiry_grace` after that for judging and finalizing.
pub(crate) fn open_round(
    pool: &crate::state::Pool,
    pool_key: &Address,
    number: u32,
    now: i64,
    bump: u8,
) -> Result<Round, ProgramError> {
    let deadline = logic::deadline(now, pool.round_duration)?;
    let reveal_deadline = logic::deadline(deadline, pool.reveal_duration)?;
    let expires_at = logic::deadline(reveal_deadline, pool.expiry_grace)?;
    Ok(Round {
        pool: *pool_key,
        round: number,
        opened_at: now,
        deadline,
        reveal_deadline,
        expires_at,
        base_model_hash: pool.global_model_hash,
        global_model_hash: [0; 32],
        global_model_cid: [0; 64],
        record_cid: [0; 64],
        eligible_count: pool.active_participants,
        submission_count: 0,
        revealed_count: 0,
        judged_count: 0,
        accepted_count: 0,
        excluded_count: 0,
        slashed_count: 0,
        total_score: 0,
        reward_budget: pool.reward_per_round,
        reward_accrued: 0,
        finalized: false,
        finalized_at: 0,
        bump,
    })
}
