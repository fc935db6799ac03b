//! `settle_participant` — after the claim window (`ended_at + claim_window`),
//! anyone closes a participant account that is still open: its unpaid reward
//! is forfeited (`total_forfeited`, reclaimable by the organization), its
//! remaining stake and the account's rent go to the participant's own wallet.
//!
//! This is what makes `close_pool` always reachable: a participant who never
//! withdraws, or whose committed payout wallet cannot be paid, no longer
//! blocks the pool.
//!
//! ### Accounts
//! 0. `[WRITE]` pool PDA `["pool", pool.organization, pool.pool_id]` (pays the stake back)
//! 1. `[WRITE]` participant PDA `["participant", pool, wallet]`
//!    has_one `pool, wallet` (closed)
//! 2. `[WRITE]` wallet (receives stake and rent; must be the participant's)
//!
//! ### Data
//! none

use super::{args, load_participant, load_pool};
use crate::{
    errors::FedstakeError,
    events::{self, ParticipantSettled},
    guards, logic,
    state::{AccountState, ParticipantStatus},
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
    let [pool_account, participant_account, wallet, ..] = accounts else {
        return Err(FedstakeError::NotEnoughAccounts.into());
    };
    // 1. writability
    guards::writable(pool_account)?;
    guards::writable(participant_account)?;
    guards::writable(wallet)?;
    args(data).finish()?;
    // 2. accounts and relations
    crate::load!(pool = load_pool, (pool_account, program_id));
    let pool_key = *pool_account.address();
    crate::load!(
        participant = load_participant,
        (participant_account, &pool_key, program_id)
    );
    // The wallet cannot be the pool (or any PDA of ours): the participant's
    // address is derived from its wallet, and only a signed join creates one.
    guards::same_key(&participant.wallet, wallet, FedstakeError::AccountMismatch)?;
    // 3. status and window
    if !pool.status.ended() {
        return Err(FedstakeError::InvalidPoolStatus.into());
    }
    let window_end = logic::deadline(pool.ended_at, pool.claim_window)?;
    if syscalls::now()? < window_end {
        return Err(FedstakeError::ClaimWindowOpen.into());
    }
    // 4. compute
    let forfeited = logic::sub(participant.reward_accrued, participant.reward_paid)?;
    let stake = participant.stake;
    pool.total_forfeited = logic::add(pool.total_forfeited, forfeited)?;
    pool.total_staked = logic::sub(pool.total_staked, stake)?;
    pool.live_participants = logic::decr(pool.live_participants, 1)?;
    if participant.status == ParticipantStatus::Active {
        pool.active_participants = logic::decr(pool.active_participants, 1)?;
    }
    // 5. move lamports, close and write
    guards::move_lamports(pool_account, wallet, stake)?;
    guards::close(participant_account, wallet)?;
    pool.store(pool_account)?;
    events::emit(&ParticipantSettled {
        pool: pool_key,
        wallet: participant.wallet,
        stake_returned: stake,
        forfeited,
    })
}
