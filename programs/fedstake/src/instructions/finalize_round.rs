//! `finalize_round` — the aggregator records the round's global model and the
//! CID of its round record, and opens the next round (or finishes the pool).
//!
//! Allowed once the reveal phase is over (its deadline passed, or every
//! commitment was revealed after the submission phase closed) and every
//! submission has its verdict, and before the round's `expires_at` (from then
//! on the round can only be expired).
//!
//! ### Accounts
//! 0. `[WRITE, SIGNER]` aggregator (pays the next round's rent)
//! 1. `[WRITE]` pool PDA `["pool", pool.organization, pool.pool_id]` has_one `aggregator`
//! 2. `[WRITE]` round PDA `["round", pool, round]` has_one `pool` (current)
//! 3. `[WRITE]` next round PDA `["round", pool, round + 1]` (created unless
//!    this was the last round; always passed so the account list is fixed)
//! 4. `[]` system program
//!
//! ### Data
//! `round u32, global_model_hash [32], global_model_cid [64], record_cid [64],
//! next_round_bump u8` (the bump of the next round's PDA; clients pass the
//! canonical one, ignored when this was the last round)
//!
//! ### Why the next round's bump may come from the caller
//! A bump that is not canonical would be a problem only if it let the same
//! seeds `["round", pool, n]` get a second account. It cannot:
//! - Round accounts are created only here (round n + 1) and by
//!   `start_training` (round 1), and never closed.
//! - Here round n + 1 is created only while `pool.round == n` and round n is
//!   not finalized; the same instruction finalizes round n and sets
//!   `pool.round = n + 1`, and `pool.round` never decreases. So it happens at
//!   most once per pool.
//! - A pool address could host a second pool only after `close_pool`, and
//!   `create_pool` refuses the id if round 1 exists at its canonical address,
//!   where `start_training` always creates it. So every round at a pool address
//!   belongs to the one pool there that trained.
//!
//! The address is still checked (`pda::expect_passed`: seeds, bump, off the
//! curve), and later instructions re-derive it from the stored bump. An
//! aggregator passing a non-canonical bump puts the round where clients that
//! derive the canonical address do not look; it is found by the program-account
//! scan for the pool and round number.

use super::{args, create_account, load_pool, load_round, non_empty, start_training::open_round};
use crate::{
    errors::FedstakeError,
    events::{self, RoundFinalized},
    guards, logic,
    pda::{self, ROUND_SEED},
    state::{AccountState, PoolStatus, Round},
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
    let [aggregator, pool_account, round_account, next_round_account, system_program, ..] =
        accounts
    else {
        return Err(FedstakeError::NotEnoughAccounts.into());
    };
    guards::signer(aggregator)?;
    guards::writable(aggregator)?;
    guards::writable(pool_account)?;
    guards::writable(round_account)?;
    guards::writable(next_round_account)?;
    guards::system_program(system_program)?;
    let mut r = args(data);
    let number = r.u32()?;
    let global_model_hash: [u8; 32] = r.array()?;
    let global_model_cid: [u8; 64] = r.array()?;
    let record_cid: [u8; 64] = r.array()?;
    let next_round_bump = r.u8()?;
    r.finish()?;
    non_empty(&global_model_hash)?;
    non_empty(&global_model_cid)?;
    non_empty(&record_cid)?;

    crate::load!(pool = load_pool, (pool_account, program_id));
    guards::same_key(&pool.aggregator, aggregator, FedstakeError::Unauthorized)?;
    let pool_key = *pool_account.address();
    crate::load!(
        round = load_round,
        (round_account, &pool_key, number, program_id)
    );
    if pool.status != PoolStatus::Training {
        return Err(FedstakeError::InvalidPoolStatus.into());
    }
    if round.finalized {
        return Err(FedstakeError::RoundAlreadyFinalized.into());
    }
    if number != pool.round {
        return Err(FedstakeError::WrongRound.into());
    }
    let now = syscalls::now()?;
    if now >= round.expires_at {
        return Err(FedstakeError::ExpiryReached.into());
    }
    if !round.submissions_closed(now) {
        return Err(FedstakeError::RoundStillOpen.into());
    }
    if !round.reveals_closed(now) {
        return Err(FedstakeError::RevealStillOpen.into());
    }
    if round.judged_count != round.submission_count {
        return Err(FedstakeError::PendingJudgements.into());
    }

    round.global_model_hash = global_model_hash;
    round.global_model_cid = global_model_cid;
    round.record_cid = record_cid;
    round.finalized = true;
    round.finalized_at = now;
    pool.global_model_hash = global_model_hash;
    pool.global_model_cid = global_model_cid;
    let finished = number >= pool.max_rounds || pool.active_participants == 0;
    if finished {
        pool.status = PoolStatus::Finished;
        pool.ended_at = now;
        pool.round_deadline = 0;
    } else {
        let next = logic::incr(number, 1)?;
        let next_le = next.to_le_bytes();
        // Passed, not searched: see "Why the next round's bump may come
        // from the caller" above.
        let bump = next_round_bump;
        pda::expect_passed(
            next_round_account.address(),
            &[ROUND_SEED, pool_key.as_ref(), &next_le],
            bump,
            program_id,
        )?;
        pool.round = next;
        let opened = open_round(pool, &pool_key, next, now, bump)?;
        pool.round_deadline = opened.deadline;
        let bump_seed = [bump];
        let seeds = [
            Seed::from(ROUND_SEED),
            Seed::from(pool_key.as_ref()),
            Seed::from(&next_le),
            Seed::from(&bump_seed),
        ];
        create_account::<Round>(aggregator, next_round_account, 0, &seeds, program_id)?;
        opened.store(next_round_account)?;
    }
    round.store(round_account)?;
    pool.store(pool_account)?;
    events::emit(&RoundFinalized {
        pool: pool_key,
        round: number,
        global_model_hash,
        accepted_count: round.accepted_count,
        excluded_count: round.excluded_count,
        slashed_count: round.slashed_count,
        reward_accrued: round.reward_accrued,
        finished,
        next_deadline: pool.round_deadline,
    })
}
