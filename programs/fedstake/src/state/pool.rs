//! `Pool` — seeds `["pool", organization, pool_id (u64 LE)]`.
//!
//! One reward pool: who runs it, the task, the current global model, round
//! clock, stake and reward books. The pool account itself holds the lamports
//! these books describe, above its own rent: stakes (`total_staked`) and the
//! reward balance. (A separate vault account would cost every pool a second
//! account creation and bump search, and every payout a second PDA check.)

use super::AccountState;
use crate::discriminator::anchor_tag;
use core::mem::offset_of;
use pinocchio::{error::ProgramError, Address};

pub const CID_LEN: usize = 64;
pub type Cid = [u8; CID_LEN];
pub type Hash = [u8; 32];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum PoolStatus {
    Open = 0,
    Training = 1,
    Finished = 2,
    Cancelled = 3,
    /// Left by its aggregator (a round not finalized within its grace period)
    /// or never started (join deadline + grace passed while Open).
    Expired = 4,
}

impl PoolStatus {
    /// Finished, Cancelled or Expired: only exits remain (withdraw, claim,
    /// reclaim, settle, close).
    #[inline(always)]
    pub fn ended(self) -> bool {
        matches!(self, Self::Finished | Self::Cancelled | Self::Expired)
    }
}

/// How the aggregator turns accepted submissions into scores (recorded so
/// anyone can check its verdicts; the program caps the sum at 10,000 bps).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum RewardPolicy {
    /// Accepted participants of a round share its budget equally.
    Equal = 0,
    /// Shares follow the aggregator's reproducible contribution measure.
    Contribution = 1,
}

impl RewardPolicy {
    pub fn from_u8(value: u8) -> Option<Self> {
        match value {
            0 => Some(Self::Equal),
            1 => Some(Self::Contribution),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, packed)]
pub struct Pool {
    pub organization: Address,
    pub aggregator: Address,
    pub pool_id: u64,
    pub task_cid: Cid,
    pub global_model_hash: Hash,
    pub global_model_cid: Cid,
    pub round: u32,
    pub max_rounds: u32,
    pub round_deadline: i64,
    pub round_duration: i64,
    /// Seconds after a round's submission deadline to reveal update CIDs.
    pub reveal_duration: i64,
    pub join_deadline: i64,
    /// Seconds after a deadline (reveal deadline, join deadline) before anyone
    /// may expire the round or the never-started pool.
    pub expiry_grace: i64,
    /// Seconds after `ended_at` during which participants claim and withdraw
    /// themselves; afterwards anyone may settle them.
    pub claim_window: i64,
    pub min_stake: u64,
    pub max_participants: u32,
    /// Participants that ever joined.
    pub participant_count: u32,
    /// Participant accounts not yet closed by `withdraw_stake`.
    pub live_participants: u32,
    /// Participants still allowed to submit (not slashed, not exited).
    pub active_participants: u32,
    pub reward_per_round: u64,
    pub total_funded: u64,
    /// Funding returned to the organization (`cancel_pool`, `reclaim_funding`).
    pub total_refunded: u64,
    /// Rewards credited to participants (sum of `reward_accrued`).
    pub total_accrued: u64,
    pub total_paid: u64,
    /// Unpaid rewards given up by `settle_participant` after the claim window.
    pub total_forfeited: u64,
    /// Stakes currently held by the pool account.
    pub total_staked: u64,
    /// Stake slashed into the reward balance.
    pub total_slashed: u64,
    pub slash_bps: u16,
    pub reward_policy: RewardPolicy,
    pub status: PoolStatus,
    pub bump: u8,
    pub created_at: i64,
    /// When the pool became Finished, Cancelled or Expired (0 before).
    pub ended_at: i64,
    /// Canonical bump of round 1's PDA `["round", pool, 1u32]`, found by
    /// `create_pool` (which needs round 1's canonical address anyway, to
    /// refuse a retired pool id) so `start_training` checks the address it
    /// creates with one hash instead of searching again.
    pub first_round_bump: u8,
}

impl Pool {
    /// Lamports of the pool above its rent that are not stake: the
    /// reward balance (funding + slashed stake − refunds − payouts).
    #[inline(always)]
    pub fn reward_balance(&self) -> Result<u64, ProgramError> {
        let inflow = crate::logic::add(self.total_funded, self.total_slashed)?;
        let outflow = crate::logic::add(self.total_refunded, self.total_paid)?;
        crate::logic::sub(inflow, outflow)
    }

    /// Rewards credited to participants and neither paid nor forfeited.
    #[inline(always)]
    pub fn rewards_owed(&self) -> Result<u64, ProgramError> {
        let settled = crate::logic::add(self.total_paid, self.total_forfeited)?;
        crate::logic::sub(self.total_accrued, settled)
    }
}

// SAFETY: packed plain data; every enum/bool field is listed in TAGS.
unsafe impl AccountState for Pool {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("account", "Pool");
    const LEN: usize = 8
        + 32 // organization
        + 32 // aggregator
        + 8 // pool_id
        + CID_LEN // task_cid
        + 32 // global_model_hash
        + CID_LEN // global_model_cid
        + 4 // round
        + 4 // max_rounds
        + 8 * 6 // round_deadline … claim_window
        + 8 // min_stake
        + 4 * 4 // max_participants … active_participants
        + 8 * 8 // reward_per_round … total_slashed
        + 2 // slash_bps
        + 1 // reward_policy
        + 1 // status
        + 1 // bump
        + 8 // created_at
        + 8 // ended_at
        + 1; // first_round_bump
    const TAGS: &'static [(usize, u8)] = &[
        (offset_of!(Pool, reward_policy), 1),
        (offset_of!(Pool, status), 4),
    ];
}

const _: () = assert!(core::mem::size_of::<Pool>() + 8 == Pool::LEN);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_round_trips_and_checks_its_enums() {
        super::super::tests::round_trips(Pool {
            organization: Address::new_from_array([1; 32]),
            aggregator: Address::new_from_array([2; 32]),
            pool_id: u64::MAX,
            task_cid: [3; CID_LEN],
            global_model_hash: [4; 32],
            global_model_cid: [5; CID_LEN],
            round: 7,
            max_rounds: 9,
            round_deadline: -1,
            round_duration: 600,
            reveal_duration: 300,
            join_deadline: i64::MAX,
            expiry_grace: 1,
            claim_window: 2,
            min_stake: 3,
            max_participants: 4,
            participant_count: 5,
            live_participants: 6,
            active_participants: 7,
            reward_per_round: 8,
            total_funded: 9,
            total_refunded: 10,
            total_accrued: 11,
            total_paid: 12,
            total_forfeited: 13,
            total_staked: 14,
            total_slashed: 15,
            slash_bps: 10_000,
            reward_policy: RewardPolicy::Contribution,
            status: PoolStatus::Expired,
            bump: 255,
            created_at: 16,
            ended_at: 17,
            first_round_bump: 254,
        });
    }
}
