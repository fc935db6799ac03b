//! `Participant` — seeds `["participant", pool, wallet]`.
//!
//! A trainer's stake, its payout commitment `sha256(payout_wallet ‖ salt)` and
//! its reward books.

use super::{pool::Hash, tag, AccountState};
use crate::{
    codec::{Reader, Writer},
    discriminator::anchor_tag,
};
use pinocchio::{error::ProgramError, Address};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ParticipantStatus {
    Active = 0,
    /// Slashed for an objective fault: may not submit again.
    Slashed = 1,
    /// Stake withdrawn after the pool ended; the account stays open only
    /// while a reward is unpaid.
    Exited = 2,
}

impl ParticipantStatus {
    fn from_u8(value: u8) -> Option<Self> {
        match value {
            0 => Some(Self::Active),
            1 => Some(Self::Slashed),
            2 => Some(Self::Exited),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Participant {
    pub pool: Address,
    pub wallet: Address,
    pub stake: u64,
    pub payout_commitment: Hash,
    pub status: ParticipantStatus,
    pub accepted_count: u32,
    /// Submissions excluded on statistical doubt (no reward, no slash).
    pub excluded_count: u32,
    /// Submissions slashed for an objective fault.
    pub slashed_count: u32,
    pub reward_accrued: u64,
    pub reward_paid: u64,
    pub joined_at: i64,
    pub bump: u8,
}

impl AccountState for Participant {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("account", "Participant");
    const LEN: usize = 8 + 32 + 32 + 8 + 32 + 1 + 4 * 3 + 8 + 8 + 8 + 1;

    fn read(r: &mut Reader) -> Result<Self, ProgramError> {
        Ok(Self {
            pool: r.address()?,
            wallet: r.address()?,
            stake: r.u64()?,
            payout_commitment: r.array()?,
            status: tag(r, ParticipantStatus::from_u8)?,
            accepted_count: r.u32()?,
            excluded_count: r.u32()?,
            slashed_count: r.u32()?,
            reward_accrued: r.u64()?,
            reward_paid: r.u64()?,
            joined_at: r.i64()?,
            bump: r.u8()?,
        })
    }

    fn write(&self, w: &mut Writer) -> Result<(), ProgramError> {
        w.address(&self.pool)?;
        w.address(&self.wallet)?;
        w.u64(self.stake)?;
        w.bytes(&self.payout_commitment)?;
        w.u8(self.status as u8)?;
        w.u32(self.accepted_count)?;
        w.u32(self.excluded_count)?;
        w.u32(self.slashed_count)?;
        w.u64(self.reward_accrued)?;
        w.u64(self.reward_paid)?;
        w.i64(self.joined_at)?;
        w.u8(self.bump)
    }
}
