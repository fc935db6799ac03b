//! `Round` — seeds `["round", pool, round (u32 LE)]`.
//!
//! One training round: its clock, its counters and, once finalized, the global
//! model it produced. Rounds are never closed: together they are the model's
//! provenance chain (round r's `global_model_hash` is round r+1's base).

use super::{
    pool::{Cid, Hash, CID_LEN},
    AccountState,
};
use crate::{
    codec::{Reader, Writer},
    discriminator::anchor_tag,
};
use pinocchio::{error::ProgramError, Address};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Round {
    pub pool: Address,
    pub round: u32,
    pub opened_at: i64,
    pub deadline: i64,
    pub base_model_hash: Hash,
    pub global_model_hash: Hash,
    pub global_model_cid: Cid,
    /// Active participants when the round opened.
    pub eligible_count: u32,
    pub submission_count: u32,
    pub judged_count: u32,
    pub accepted_count: u32,
    pub rejected_count: u32,
    /// Sum of accepted scores, at most 10,000 basis points.
    pub total_score: u32,
    pub reward_budget: u64,
    pub reward_accrued: u64,
    pub finalized: bool,
    pub finalized_at: i64,
    pub bump: u8,
}

impl AccountState for Round {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("account", "Round");
    const LEN: usize = 8 + 32 + 4 + 8 + 8 + 32 + 32 + CID_LEN + 4 * 6 + 8 + 8 + 1 + 8 + 1;

    fn read(r: &mut Reader) -> Result<Self, ProgramError> {
        Ok(Self {
            pool: r.address()?,
            round: r.u32()?,
            opened_at: r.i64()?,
            deadline: r.i64()?,
            base_model_hash: r.array()?,
            global_model_hash: r.array()?,
            global_model_cid: r.array()?,
            eligible_count: r.u32()?,
            submission_count: r.u32()?,
            judged_count: r.u32()?,
            accepted_count: r.u32()?,
            rejected_count: r.u32()?,
            total_score: r.u32()?,
            reward_budget: r.u64()?,
            reward_accrued: r.u64()?,
            finalized: r.bool()?,
            finalized_at: r.i64()?,
            bump: r.u8()?,
        })
    }

    fn write(&self, w: &mut Writer) -> Result<(), ProgramError> {
        w.address(&self.pool)?;
        w.u32(self.round)?;
        w.i64(self.opened_at)?;
        w.i64(self.deadline)?;
        w.bytes(&self.base_model_hash)?;
        w.bytes(&self.global_model_hash)?;
        w.bytes(&self.global_model_cid)?;
        w.u32(self.eligible_count)?;
        w.u32(self.submission_count)?;
        w.u32(self.judged_count)?;
        w.u32(self.accepted_count)?;
        w.u32(self.rejected_count)?;
        w.u32(self.total_score)?;
        w.u64(self.reward_budget)?;
        w.u64(self.reward_accrued)?;
        w.bool(self.finalized)?;
        w.i64(self.finalized_at)?;
        w.u8(self.bump)
    }
}
