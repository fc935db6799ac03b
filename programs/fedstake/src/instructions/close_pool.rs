//! `close_pool` — once the pool is Finished or Cancelled and every participant
//! has withdrawn (so every reward was claimed), the organization takes back
//! the leftover reward balance and the rent of the pool and vault.
//! Round accounts stay: they are the model provenance chain.
//!
//! ### Accounts
//! 0. `[WRITE, SIGNER]` organization
//! 1. `[WRITE]` pool (closed)
//! 2. `[WRITE]` vault (closed)
//!
//! ### Data
//! none

use super::{args, check_vault, load_pool};
use crate::{
    errors::FedstakeError,
    events::{self, PoolClosed},
    guards, logic,
    state::PoolStatus,
};
use pinocchio::ProgramResult;

#[inline(never)]
pub fn process(ix: super::Ix) -> ProgramResult {
    let super::Ix {
        program_id,
        accounts,
        data,
    } = ix;
    let [organization, pool_account, vault, ..] = accounts else {
        return Err(FedstakeError::NotEnoughAccounts.into());
    };
    guards::signer(organization)?;
    guards::writable(organization)?;
    guards::writable(pool_account)?;
    guards::writable(vault)?;
    args(data).finish()?;

    let pool = load_pool(pool_account, program_id)?;
    guards::same_key(
        &pool.organization,
        organization,
        FedstakeError::Unauthorized,
    )?;
    let pool_key = *pool_account.address();
    check_vault(vault, &pool_key, &pool, program_id)?;
    if !matches!(pool.status, PoolStatus::Finished | PoolStatus::Cancelled) {
        return Err(FedstakeError::InvalidPoolStatus.into());
    }
    if pool.live_participants != 0 {
        return Err(FedstakeError::ParticipantsRemaining.into());
    }
    let returned = logic::add(vault.lamports(), pool_account.lamports())?;

    guards::close(vault, organization)?;
    guards::close(pool_account, organization)?;
    events::emit(&PoolClosed {
        pool: pool_key,
        returned,
    })
}
