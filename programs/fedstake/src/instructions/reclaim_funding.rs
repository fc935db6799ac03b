//! `reclaim_funding` — after the pool ended (Finished, Cancelled or Expired),
//! anyone sends the organization the part of the reward balance no
//! participant is owed: `reward_balance − (total_accrued − total_paid −
//! total_forfeited)`. The lamports can only go to the pool's organization.
//!
//! Unspent round budgets, slashed stake, funding of rounds never run and
//! forfeited rewards come back this way. A second call finds nothing
//! (`NothingToReclaim`).
//!
//! ### Accounts
//! 0. `[WRITE]` pool PDA `["pool", pool.organization, pool.pool_id]` has_one `organization`
//!    (pays the funding back)
//! 1. `[WRITE]` organization (receives the funding; must be the pool's)
//!
//! ### Data
//! none

use super::{args, load_pool};
use crate::{
    errors::FedstakeError,
    events::{self, FundingReclaimed},
    guards, logic,
    state::AccountState,
};
use pinocchio::ProgramResult;

#[inline(never)]
pub fn process(ix: super::Ix) -> ProgramResult {
    let super::Ix {
        program_id,
        accounts,
        data,
    } = ix;
    let [pool_account, organization, ..] = accounts else {
        return Err(FedstakeError::NotEnoughAccounts.into());
    };
    // 1. writability
    guards::writable(pool_account)?;
    guards::writable(organization)?;
    args(data).finish()?;
    // 2. accounts and relations
    crate::load!(pool = load_pool, (pool_account, program_id));
    let pool_key = *pool_account.address();
    guards::same_key(
        &pool.organization,
        organization,
        FedstakeError::AccountMismatch,
    )?;
    // 3. status and amount
    if !pool.status.ended() {
        return Err(FedstakeError::InvalidPoolStatus.into());
    }
    let amount = logic::sub(pool.reward_balance()?, pool.rewards_owed()?)?;
    if amount == 0 {
        return Err(FedstakeError::NothingToReclaim.into());
    }
    // 4. move lamports and write
    pool.total_refunded = logic::add(pool.total_refunded, amount)?;
    guards::move_lamports(pool_account, organization, amount)?;
    pool.store(pool_account)?;
    events::emit(&FundingReclaimed {
        pool: pool_key,
        organization: pool.organization,
        amount,
        total_refunded: pool.total_refunded,
    })
}
