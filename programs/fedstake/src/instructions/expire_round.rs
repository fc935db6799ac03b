//! `expire_round` — anyone ends a pool whose aggregator went silent: the
//! current round was not finalized by its `expires_at` (reveal deadline +
//! `expiry_grace`), so the pool becomes Expired.
//!
//! Stakes then become withdrawable, rewards accrued so far stay claimable,
//! and the organization can reclaim the funding not owed to anyone. Needs no
//! signature: the caller only pays the fee, and no lamports move.
//!
//! ### Accounts
//! 0. `[WRITE]` pool PDA `["pool", pool.organization, pool.pool_id]`
//! 1. `[]` round PDA `["round", pool, pool.round]` has_one `pool` (the pool's
//!    current round)
//!
//! ### Data
//! none

use super::{args, load_pool, load_round};
use crate::{
    errors::FedstakeError,
    events::{self, RoundExpired},
    guards,
    state::{AccountState, PoolStatus},
    syscalls,
};
use pinocchio::ProgramResult;

#[inline(never)]
pub fn process(ix: super::Ix) -> ProgramResult {
    let super::Ix {
        program_id,
        accounts,
        data,
    } = ix;
    let [pool_account, round_account, ..] = accounts else {
        return Err(FedstakeError::NotEnoughAccounts.into());
    };
    // 1. writability
    guards::writable(pool_account)?;
    args(data).finish()?;
    // 2. accounts: the round must be the pool's current one
    crate::load!(pool = load_pool, (pool_account, program_id));
    let pool_key = *pool_account.address();
    if pool.status != PoolStatus::Training {
        return Err(FedstakeError::InvalidPoolStatus.into());
    }
    crate::load!(
        round = load_round,
        (round_account, &pool_key, pool.round, program_id)
    );
    // 3. window
    let now = syscalls::now()?;
    if now < round.expires_at {
        return Err(FedstakeError::ExpiryNotReached.into());
    }
    // 4. write
    pool.status = PoolStatus::Expired;
    pool.ended_at = now;
    pool.store(pool_account)?;
    events::emit(&RoundExpired {
        pool: pool_key,
        round: round.round,
        expires_at: round.expires_at,
        ended_at: now,
    })
}
