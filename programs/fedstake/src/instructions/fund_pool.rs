//! `fund_pool(amount)` — anyone adds reward lamports to the pool.
//!
//! ### Accounts
//! 0. `[WRITE, SIGNER]` funder
//! 1. `[WRITE]` pool PDA `["pool", pool.organization, pool.pool_id]` (receives the lamports)
//! 2. `[]` system program
//!
//! ### Data
//! `amount u64`

use super::{args, load_pool};
use crate::{
    errors::FedstakeError,
    events::{self, PoolFunded},
    guards, logic,
    state::{AccountState, PoolStatus},
};
use pinocchio::ProgramResult;
use pinocchio_system::instructions::Transfer;

#[inline(never)]
pub fn process(ix: super::Ix) -> ProgramResult {
    let super::Ix {
        program_id,
        accounts,
        data,
    } = ix;
    let [funder, pool_account, system_program, ..] = accounts else {
        return Err(FedstakeError::NotEnoughAccounts.into());
    };
    guards::signer(funder)?;
    guards::writable(funder)?;
    guards::writable(pool_account)?;
    guards::system_program(system_program)?;
    let mut r = args(data);
    let amount = r.u64()?;
    r.finish()?;

    crate::load!(pool = load_pool, (pool_account, program_id));
    if !matches!(pool.status, PoolStatus::Open | PoolStatus::Training) {
        return Err(FedstakeError::InvalidPoolStatus.into());
    }
    if amount == 0 {
        return Err(FedstakeError::InvalidAmount.into());
    }
    pool.total_funded = logic::add(pool.total_funded, amount)?;

    Transfer {
        from: funder,
        to: pool_account,
        lamports: amount,
    }
    .invoke()?;
    pool.store(pool_account)?;
    events::emit(&PoolFunded {
        pool: *pool_account.address(),
        funder: *funder.address(),
        amount,
        total_funded: pool.total_funded,
    })
}
