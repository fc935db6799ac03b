//! `Submission` — seeds `["submission", pool, round (u32 LE), wallet]`.
//!
//! One participant's commitment for one round (`update_hash`), the update's
//! CID once revealed, and the aggregator's verdict on it.

use super::{
    pool::{Cid, Hash, CID_LEN},
    tag, AccountState,
};
use crate::{
    codec::{Reader, Writer},
    discriminator::anchor_tag,
};
use pinocchio::{error::ProgramError, Address};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Verdict {
    Pending = 0,
    /// Earns its score's share of the round budget; reason 0.
    Accepted = 1,
    /// Statistical doubt: no reward this round, no slash; reasons 64..=127.
    Excluded = 2,
    /// Objective, reproducible fault: `slash_bps` of the stake is taken and
    /// the participant may not submit again; reasons 1..=63.
    Slashed = 3,
}

impl Verdict {
    pub fn from_u8(value: u8) -> Option<Self> {
        match value {
            0 => Some(Self::Pending),
            1 => Some(Self::Accepted),
            2 => Some(Self::Excluded),
            3 => Some(Self::Slashed),
            _ => None,
        }
    }
}

/// Reason codes (`u8`) with a fixed meaning on chain; the others of each class
/// are the aggregator's (see docs/PROTOCOL.md).
pub mod reason {
    pub const OK: u8 = 0;
    /// First and last code of the slashable (objective) class.
    pub const FIRST_OBJECTIVE: u8 = 1;
    pub const LAST_OBJECTIVE: u8 = 63;
    /// The commitment was never revealed: the only verdict for an unrevealed
    /// submission, and never allowed for a revealed one.
    pub const NOT_REVEALED: u8 = 6;
    /// First and last code of the statistical (exclude-only) class.
    pub const FIRST_STATISTICAL: u8 = 64;
    pub const LAST_STATISTICAL: u8 = 127;
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submission {
    pub pool: Address,
    pub wallet: Address,
    pub round: u32,
    /// SHA-256 of the canonical update bytes (the commitment).
    pub update_hash: Hash,
    /// Where the update bytes are stored; zero until `reveal_update`.
    pub update_cid: Cid,
    pub num_samples: u64,
    pub base_model_hash: Hash,
    pub verdict: Verdict,
    /// Basis points of the round's reward budget.
    pub score: u32,
    /// Reason code of the verdict (see `reason`).
    pub reason: u8,
    /// Lamports credited to the participant for this submission.
    pub reward: u64,
    /// Stake slashed for this submission.
    pub slashed: u64,
    pub revealed: bool,
    pub submitted_at: i64,
    pub revealed_at: i64,
    pub judged_at: i64,
    pub bump: u8,
}

impl AccountState for Submission {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("account", "Submission");
    const LEN: usize =
        8 + 32 + 32 + 4 + 32 + CID_LEN + 8 + 32 + 1 + 4 + 1 + 8 + 8 + 1 + 8 + 8 + 8 + 1;

    fn read(r: &mut Reader) -> Result<Self, ProgramError> {
        Ok(Self {
            pool: r.address()?,
            wallet: r.address()?,
            round: r.u32()?,
            update_hash: r.array()?,
            update_cid: r.array()?,
            num_samples: r.u64()?,
            base_model_hash: r.array()?,
            verdict: tag(r, Verdict::from_u8)?,
            score: r.u32()?,
            reason: r.u8()?,
            reward: r.u64()?,
            slashed: r.u64()?,
            revealed: r.bool()?,
            submitted_at: r.i64()?,
            revealed_at: r.i64()?,
            judged_at: r.i64()?,
            bump: r.u8()?,
        })
    }

    fn write(&self, w: &mut Writer) -> Result<(), ProgramError> {
        w.address(&self.pool)?;
        w.address(&self.wallet)?;
        w.u32(self.round)?;
        w.bytes(&self.update_hash)?;
        w.bytes(&self.update_cid)?;
        w.u64(self.num_samples)?;
        w.bytes(&self.base_model_hash)?;
        w.u8(self.verdict as u8)?;
        w.u32(self.score)?;
        w.u8(self.reason)?;
        w.u64(self.reward)?;
        w.u64(self.slashed)?;
        w.bool(self.revealed)?;
        w.i64(self.submitted_at)?;
        w.i64(self.revealed_at)?;
        w.i64(self.judged_at)?;
        w.u8(self.bump)
    }
}
