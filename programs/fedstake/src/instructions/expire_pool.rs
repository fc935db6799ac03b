//! `expire_pool` — anyone ends a pool that never started: it is still Open at
//! `join_deadline + expiry_grace`, so it becomes Expired and stakes become
//! withdrawable. `start_training` is refused from the same moment, so the two
//! never race. Needs no signature; no lamports move.
//!
//! ### Accounts
//! 0. `[WRITE]` pool PDA `["pool", pool.organization, pool.pool_id]`
//!
//! ### Data
//! none

use super::{args, load_pool};
use crate::{
    errors::FedstakeError,
    events::{self, PoolExpired},
    guards, logic,
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
    let [pool_account, ..] = accounts else {
        return Err(FedstakeError::NotEnoughAccounts.into());
    };
    // 1. writability
    guards::writable(pool_account)?;
    args(data).finish()?;
    // 2. account and status
    crate::load!(pool = load_pool, (pool_account, program_id));
    if pool.status != PoolStatus::Open {
        return Err(FedstakeError::InvalidPoolStatus.into());
    }
    // 3. window
    let now = syscalls::now()?;
    if now < logic::deadline(pool.join_deadline, pool.expiry_grace)? {
        return Err(FedstakeError::ExpiryNotReached.into());
    }
    // 4. write
    pool.status = PoolStatus::Expired;
    pool.ended_at = now;
    pool.store(pool_account)?;
    events::emit(&PoolExpired {
        pool: *pool_account.address(),
        join_deadline: pool.join_deadline,
        ended_at: now,
    })
}
