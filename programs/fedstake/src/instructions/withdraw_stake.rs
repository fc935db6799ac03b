//! `withdraw_stake` — after the pool is Finished or Cancelled, returns the
//! unslashed stake and the participant account's rent, closing the account.
//! Accrued rewards must be claimed first so nothing is lost with the account.
//!
//! ### Accounts
//! 0. `[WRITE, SIGNER]` wallet
//! 1. `[WRITE]` pool
//! 2. `[WRITE]` participant (closed)
//! 3. `[WRITE]` vault
//!
//! ### Data
//! none

use super::{args, check_vault, load_participant, load_pool};
use crate::{
    errors::FedstakeError,
    events::{self, StakeWithdrawn},
    guards, logic,
    state::{AccountState, ParticipantStatus, PoolStatus},
};
use pinocchio::ProgramResult;

#[inline(never)]
pub fn process(ix: super::Ix) -> ProgramResult {
    let super::Ix {
        program_id,
        accounts,
        data,
    } = ix;
    let [wallet, pool_account, participant_account, vault, ..] = accounts else {
        return Err(FedstakeError::NotEnoughAccounts.into());
    };
    guards::signer(wallet)?;
    guards::writable(wallet)?;
    guards::writable(pool_account)?;
    guards::writable(participant_account)?;
    guards::writable(vault)?;
    args(data).finish()?;

    let mut pool = load_pool(pool_account, program_id)?;
    let pool_key = *pool_account.address();
    check_vault(vault, &pool_key, &pool, program_id)?;
    let participant = load_participant(participant_account, &pool_key, program_id)?;
    guards::same_key(&participant.wallet, wallet, FedstakeError::AccountMismatch)?;
    if !matches!(pool.status, PoolStatus::Finished | PoolStatus::Cancelled) {
        return Err(FedstakeError::InvalidPoolStatus.into());
    }
    if participant.reward_accrued != participant.reward_paid {
        return Err(FedstakeError::RewardUnclaimed.into());
    }
    pool.total_staked = logic::sub(pool.total_staked, participant.stake)?;
    pool.live_participants = logic::decr(pool.live_participants, 1)?;
    if participant.status == ParticipantStatus::Active {
        pool.active_participants = logic::decr(pool.active_participants, 1)?;
    }

    guards::move_lamports(vault, wallet, participant.stake)?;
    guards::close(participant_account, wallet)?;
    pool.store(pool_account)?;
    events::emit(&StakeWithdrawn {
        pool: pool_key,
        wallet: participant.wallet,
        amount: participant.stake,
    })
}
