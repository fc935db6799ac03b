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
//! `round u32, global_model_hash [32], global_model_cid [64], record_cid [64]`
//!
//! ### Why the next round's bump is searched, not passed
//! Round n + 1 is opened only here, at most once per pool, so a bump from the
//! caller could not give it a second account. It would still let the
//! aggregator open the round at an address other than the canonical one, where
//! every client that derives the round (client_kit's builders and
//! `find_round`, Anchor clients resolving PDAs from the IDL) does not look:
//! participants could not submit to it, expire it or get their stakes out
//! through those tools, and a pool must always be able to end without the
//! aggregator's cooperation. So the program finds the canonical bump itself
//! (`pda::expect_canonical`, about 340 CU per try) and stores it; later
//! instructions re-derive the address from the stored bump.

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
        // Searched, never passed: see "Why the next round's bump is
        // searched, not passed" above.
        let bump = pda::expect_canonical(
            next_round_account.address(),
            &[ROUND_SEED, pool_key.as_ref(), &next_le],
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
