//! `close_pool` — once the pool has ended and every participant account is
//! closed (withdrawn or settled, so nothing is owed), the organization gets
//! back every lamport the pool account still holds (leftovers and its rent).
//!
//! The organization may close any time that holds; anyone else only after the
//! claim window (`ended_at + claim_window`), and everything still goes to the
//! organization. Round accounts stay: they are the model provenance chain.
//!
//! ### Accounts
//! 0. `[SIGNER]` closer (the organization, or anyone after the claim window)
//! 1. `[WRITE]` organization (receives everything; must be the pool's)
//! 2. `[WRITE]` pool PDA `["pool", pool.organization, pool.pool_id]` has_one `organization`
//!    (closed)
//!
//! ### Data
//! none

use super::{args, load_pool};
use crate::{
    errors::FedstakeError,
    events::{self, PoolClosed},
    guards, logic, syscalls,
};
use pinocchio::ProgramResult;

#[inline(never)]
pub fn process(ix: super::Ix) -> ProgramResult {
    let super::Ix {
        program_id,
        accounts,
        data,
    } = ix;
    let [closer, organization, pool_account, ..] = accounts else {
        return Err(FedstakeError::NotEnoughAccounts.into());
    };
    // 1. signers and writability
    guards::signer(closer)?;
    guards::writable(organization)?;
    guards::writable(pool_account)?;
    args(data).finish()?;
    // 2. accounts and relations
    crate::load!(pool = load_pool, (pool_account, program_id));
    guards::same_key(
        &pool.organization,
        organization,
        FedstakeError::AccountMismatch,
    )?;
    let pool_key = *pool_account.address();
    // 3. status, windows and books
    if !pool.status.ended() {
        return Err(FedstakeError::InvalidPoolStatus.into());
    }
    if !guards::same(closer.address(), organization.address()) {
        let window_end = logic::deadline(pool.ended_at, pool.claim_window)?;
        if syscalls::now()? < window_end {
            return Err(FedstakeError::ClaimWindowOpen.into());
        }
    }
    if pool.live_participants != 0 {
        return Err(FedstakeError::ParticipantsRemaining.into());
    }
    // 4. move everything to the organization
    let returned = pool_account.lamports();
    guards::close(pool_account, organization)?;
    events::emit(&PoolClosed {
        pool: pool_key,
        closer: *closer.address(),
        returned,
    })
}
