//! `Submission` — seeds `["submission", pool, round (u32 LE), wallet]`.
//!
//! One participant's commitment for one round (`update_commitment` =
//! `sha256(update_hash ‖ wallet)`), the update's hash and CID once revealed,
//! and the aggregator's verdict on it.

use super::{
    pool::{Cid, Hash, CID_LEN},
    AccountState,
};
use crate::discriminator::anchor_tag;
use core::mem::offset_of;
use pinocchio::Address;

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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, packed)]
pub struct Submission {
    pub pool: Address,
    pub wallet: Address,
    pub round: u32,
    /// `sha256(update_hash ‖ wallet)`, recorded by `submit_update`. Binding the
    /// committer's wallet means a peer's commitment, read on chain, is useless
    /// to a copier: opening it needs the peer's `update_hash`, secret until
    /// the peer reveals, and then only opens for the peer's wallet.
    pub update_commitment: Hash,
    /// SHA-256 of the canonical update bytes; zero until `reveal_update`
    /// checks it against `update_commitment`.
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

// SAFETY: packed plain data; every enum/bool field is listed in TAGS.
unsafe impl AccountState for Submission {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("account", "Submission");
    const LEN: usize =
        8 + 32 + 32 + 4 + 32 + 32 + CID_LEN + 8 + 32 + 1 + 4 + 1 + 8 + 8 + 1 + 8 + 8 + 8 + 1;
    const TAGS: &'static [(usize, u8)] = &[
        (offset_of!(Submission, verdict), 3),
        (offset_of!(Submission, revealed), 1),
    ];
}

const _: () = assert!(core::mem::size_of::<Submission>() + 8 == Submission::LEN);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submission_round_trips_and_checks_verdict_and_flag() {
        super::super::tests::round_trips(Submission {
            pool: Address::new_from_array([1; 32]),
            wallet: Address::new_from_array([2; 32]),
            round: 3,
            update_commitment: [13; 32],
            update_hash: [4; 32],
            update_cid: [5; CID_LEN],
            num_samples: u64::MAX,
            base_model_hash: [6; 32],
            verdict: Verdict::Slashed,
            score: 7,
            reason: 63,
            reward: 8,
            slashed: 9,
            revealed: true,
            submitted_at: 10,
            revealed_at: 11,
            judged_at: 12,
            bump: 253,
        });
    }
}
