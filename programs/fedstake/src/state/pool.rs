//! `Pool` — seeds `["pool", organization, pool_id (u64 LE)]`.
//!
//! One reward pool: who runs it, the task, the current global model, round
//! clock, stake and reward books. The vault PDA `["vault", pool]` holds the
//! lamports these books describe.

use super::{tag, AccountState};
use crate::{
    codec::{Reader, Writer},
    discriminator::anchor_tag,
};
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
    fn from_u8(value: u8) -> Option<Self> {
        match value {
            0 => Some(Self::Open),
            1 => Some(Self::Training),
            2 => Some(Self::Finished),
            3 => Some(Self::Cancelled),
            4 => Some(Self::Expired),
            _ => None,
        }
    }

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

#[derive(Clone, Debug, PartialEq, Eq)]
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
    /// Stakes currently held in the vault.
    pub total_staked: u64,
    /// Stake slashed into the reward balance.
    pub total_slashed: u64,
    pub slash_bps: u16,
    pub reward_policy: RewardPolicy,
    pub status: PoolStatus,
    pub bump: u8,
    pub vault_bump: u8,
    pub created_at: i64,
    /// When the pool became Finished, Cancelled or Expired (0 before).
    pub ended_at: i64,
}

impl Pool {
    /// Lamports of the vault that are neither stake nor already paid: the
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

impl AccountState for Pool {
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
        + 1 // vault_bump
        + 8 // created_at
        + 8; // ended_at

    fn read(r: &mut Reader) -> Result<Self, ProgramError> {
        Ok(Self {
            organization: r.address()?,
            aggregator: r.address()?,
            pool_id: r.u64()?,
            task_cid: r.array()?,
            global_model_hash: r.array()?,
            global_model_cid: r.array()?,
            round: r.u32()?,
            max_rounds: r.u32()?,
            round_deadline: r.i64()?,
            round_duration: r.i64()?,
            reveal_duration: r.i64()?,
            join_deadline: r.i64()?,
            expiry_grace: r.i64()?,
            claim_window: r.i64()?,
            min_stake: r.u64()?,
            max_participants: r.u32()?,
            participant_count: r.u32()?,
            live_participants: r.u32()?,
            active_participants: r.u32()?,
            reward_per_round: r.u64()?,
            total_funded: r.u64()?,
            total_refunded: r.u64()?,
            total_accrued: r.u64()?,
            total_paid: r.u64()?,
            total_forfeited: r.u64()?,
            total_staked: r.u64()?,
            total_slashed: r.u64()?,
            slash_bps: r.u16()?,
            reward_policy: tag(r, RewardPolicy::from_u8)?,
            status: tag(r, PoolStatus::from_u8)?,
            bump: r.u8()?,
            vault_bump: r.u8()?,
            created_at: r.i64()?,
            ended_at: r.i64()?,
        })
    }

    fn write(&self, w: &mut Writer) -> Result<(), ProgramError> {
        w.address(&self.organization)?;
        w.address(&self.aggregator)?;
        w.u64(self.pool_id)?;
        w.bytes(&self.task_cid)?;
        w.bytes(&self.global_model_hash)?;
        w.bytes(&self.global_model_cid)?;
        w.u32(self.round)?;
        w.u32(self.max_rounds)?;
        w.i64(self.round_deadline)?;
        w.i64(self.round_duration)?;
        w.i64(self.reveal_duration)?;
        w.i64(self.join_deadline)?;
        w.i64(self.expiry_grace)?;
        w.i64(self.claim_window)?;
        w.u64(self.min_stake)?;
        w.u32(self.max_participants)?;
        w.u32(self.participant_count)?;
        w.u32(self.live_participants)?;
        w.u32(self.active_participants)?;
        w.u64(self.reward_per_round)?;
        w.u64(self.total_funded)?;
        w.u64(self.total_refunded)?;
        w.u64(self.total_accrued)?;
        w.u64(self.total_paid)?;
        w.u64(self.total_forfeited)?;
        w.u64(self.total_staked)?;
        w.u64(self.total_slashed)?;
        w.u16(self.slash_bps)?;
        w.u8(self.reward_policy as u8)?;
        w.u8(self.status as u8)?;
        w.u8(self.bump)?;
        w.u8(self.vault_bump)?;
        w.i64(self.created_at)?;
        w.i64(self.ended_at)
    }
}
