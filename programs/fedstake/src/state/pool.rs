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
}

impl PoolStatus {
    fn from_u8(value: u8) -> Option<Self> {
        match value {
            0 => Some(Self::Open),
            1 => Some(Self::Training),
            2 => Some(Self::Finished),
            3 => Some(Self::Cancelled),
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
    pub join_deadline: i64,
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
    /// Funding returned to the organization by `cancel_pool`.
    pub total_refunded: u64,
    /// Rewards credited to participants (sum of `reward_accrued`).
    pub total_accrued: u64,
    pub total_paid: u64,
    /// Stakes currently held in the vault.
    pub total_staked: u64,
    /// Stake slashed into the reward balance.
    pub total_slashed: u64,
    pub slash_bps: u16,
    pub status: PoolStatus,
    pub bump: u8,
    pub vault_bump: u8,
    pub created_at: i64,
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
}

impl AccountState for Pool {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("account", "Pool");
    const LEN: usize = 8
        + 32
        + 32
        + 8
        + CID_LEN
        + 32
        + CID_LEN
        + 4
        + 4
        + 8
        + 8
        + 8
        + 8
        + 4
        + 4
        + 4
        + 4
        + 8 * 7
        + 2
        + 1
        + 1
        + 1
        + 8;

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
            join_deadline: r.i64()?,
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
            total_staked: r.u64()?,
            total_slashed: r.u64()?,
            slash_bps: r.u16()?,
            status: tag(r, PoolStatus::from_u8)?,
            bump: r.u8()?,
            vault_bump: r.u8()?,
            created_at: r.i64()?,
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
        w.i64(self.join_deadline)?;
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
        w.u64(self.total_staked)?;
        w.u64(self.total_slashed)?;
        w.u16(self.slash_bps)?;
        w.u8(self.status as u8)?;
        w.u8(self.bump)?;
        w.u8(self.vault_bump)?;
        w.i64(self.created_at)
    }
}
