//! `withdraw_stake` — after the pool ended (Finished, Cancelled or Expired),
//! returns the participant's remaining stake, whether or not its reward was
//! claimed.
//!
//! With no reward left unpaid the participant account closes and its rent
//! goes back to the wallet. Otherwise the account stays (status Exited,
//! stake 0) so the reward can still be claimed; a second `withdraw_stake`
//! after the claim closes it, or anyone settles it after the claim window.
//!
//! ### Accounts
//! 0. `[WRITE, SIGNER]` wallet
//! 1. `[WRITE]` pool PDA `["pool", pool.organization, pool.pool_id]` (pays the stake back)
//! 2. `[WRITE]` participant PDA `["participant", pool, wallet]`
//!    has_one `pool, wallet` (closed when no reward is unpaid)
//!
//! ### Data
//! none

use super::{args, load_participant, load_pool};
use crate::{
    errors::FedstakeError,
    events::{self, StakeWithdrawn},
    guards, logic,
    state::{AccountState, ParticipantStatus},
};
use pinocchio::ProgramResult;

#[inline(never)]
pub fn process(ix: super::Ix) -> ProgramResult {
    let super::Ix {
        program_id,
        accounts,
        data,
    } = ix;
    let [wallet, pool_account, participant_account, ..] = accounts else {
        return Err(FedstakeError::NotEnoughAccounts.into());
    };
    // 1. signers and writability
    guards::signer(wallet)?;
    guards::writable(wallet)?;
    guards::writable(pool_account)?;
    guards::writable(participant_account)?;
    args(data).finish()?;
    // 2. accounts and relations
    crate::load!(pool = load_pool, (pool_account, program_id));
    let pool_key = *pool_account.address();
    crate::load!(
        participant = load_participant,
        (participant_account, &pool_key, program_id)
    );
    guards::same_key(&participant.wallet, wallet, FedstakeError::AccountMismatch)?;
    // 3. status
    if !pool.status.ended() {
        return Err(FedstakeError::InvalidPoolStatus.into());
    }
    let amount = participant.stake;
    let unpaid = logic::sub(participant.reward_accrued, participant.reward_paid)?;
    let close = unpaid == 0;
    if amount == 0 && !close {
        return Err(FedstakeError::RewardUnclaimed.into());
    }
    // 4. compute
    pool.total_staked = logic::sub(pool.total_staked, amount)?;
    if participant.status == ParticipantStatus::Active {
        pool.active_participants = logic::decr(pool.active_participants, 1)?;
    }
    participant.stake = 0;
    participant.status = ParticipantStatus::Exited;
    // 5. move lamports and write
    guards::move_lamports(pool_account, wallet, amount)?;
    if close {
        pool.live_participants = logic::decr(pool.live_participants, 1)?;
        guards::close(participant_account, wallet)?;
    } else {
        participant.store(participant_account)?;
    }
    pool.store(pool_account)?;
    events::emit(&StakeWithdrawn {
        pool: pool_key,
        wallet: participant.wallet,
        amount,
        closed: close,
    })
}
