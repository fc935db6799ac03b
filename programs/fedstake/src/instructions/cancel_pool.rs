//! `cancel_pool` — while the pool is still Open, the organization calls it off:
//! funding returns to the organization and stakes become withdrawable (the
//! pool has ended: its claim window starts now).
//!
//! ### Accounts
//! 0. `[WRITE, SIGNER]` organization
//! 1. `[WRITE]` pool PDA `["pool", pool.organization, pool.pool_id]` has_one `organization`
//!    (refunds the funding)
//!
//! ### Data
//! none

use super::{args, load_pool};
use crate::{
    errors::FedstakeError,
    events::{self, PoolCancelled},
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
    let [organization, pool_account, ..] = accounts else {
        return Err(FedstakeError::NotEnoughAccounts.into());
    };
    guards::signer(organization)?;
    guards::writable(organization)?;
    guards::writable(pool_account)?;
    args(data).finish()?;

    crate::load!(pool = load_pool, (pool_account, program_id));
    guards::same_key(
        &pool.organization,
        organization,
        FedstakeError::Unauthorized,
    )?;
    let pool_key = *pool_account.address();
    if pool.status != PoolStatus::Open {
        return Err(FedstakeError::InvalidPoolStatus.into());
    }
    let refund = pool.reward_balance()?;
    pool.total_refunded = logic::add(pool.total_refunded, refund)?;
    pool.status = PoolStatus::Cancelled;
    pool.ended_at = syscalls::now()?;

    guards::move_lamports(pool_account, organization, refund)?;
    pool.store(pool_account)?;
    events::emit(&PoolCancelled {
        pool: pool_key,
        refunded: refund,
    })
}
