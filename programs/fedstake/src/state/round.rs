//! `Round` — seeds `["round", pool, round (u32 LE)]`.
//!
//! One training round: its clock, its counters and, once finalized, the global
//! model it produced. Rounds are never closed: together they are the model's
//! provenance chain (round r's `global_model_hash` is round r+1's base), and
//! round 1's existence marks a pool id as used (`create_pool` refuses it).
//!
//! Windows: submissions (commitments) until `deadline`; reveals until
//! `reveal_deadline`; judging and finalizing until `expires_at`; from then on
//! anyone may expire the round (and with it the pool).

use super::{
    pool::{Cid, Hash, CID_LEN},
    AccountState,
};
use crate::discriminator::anchor_tag;
use core::mem::offset_of;
use pinocchio::Address;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, packed)]
pub struct Round {
    pub pool: Address,
    pub round: u32,
    pub opened_at: i64,
    /// End of the submission (commitment) phase.
    pub deadline: i64,
    /// End of the reveal phase: `deadline + reveal_duration`.
    pub reveal_deadline: i64,
    /// From this time anyone may expire the round:
    /// `reveal_deadline + expiry_grace`.
    pub expires_at: i64,
    pub base_model_hash: Hash,
    pub global_model_hash: Hash,
    pub global_model_cid: Cid,
    /// CID of the operator's round record (rule, parameters, reference update,
    /// published sources, verdicts, scores), so anyone can rerun the round.
    pub record_cid: Cid,
    /// Active participants when the round opened.
    pub eligible_count: u32,
    pub submission_count: u32,
    pub revealed_count: u32,
    pub judged_count: u32,
    pub accepted_count: u32,
    pub excluded_count: u32,
    pub slashed_count: u32,
    /// Sum of accepted scores, at most 10,000 basis points.
    pub total_score: u32,
    pub reward_budget: u64,
    pub reward_accrued: u64,
    pub finalized: bool,
    pub finalized_at: i64,
    pub bump: u8,
}

impl Round {
    /// The submission phase is closed: its deadline passed, or every
    /// participant eligible at the round's start has committed.
    #[inline(always)]
    pub fn submissions_closed(&self, now: i64) -> bool {
        now >= self.deadline || self.submission_count >= self.eligible_count
    }

    /// The reveal phase is over: its deadline passed, or the submission phase
    /// is closed and every commitment has been revealed.
    #[inline(always)]
    pub fn reveals_closed(&self, now: i64) -> bool {
        now >= self.reveal_deadline
            || (self.submissions_closed(now) && self.revealed_count >= self.submission_count)
    }
}

// SAFETY: packed plain data; every enum/bool field is listed in TAGS.
unsafe impl AccountState for Round {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("account", "Round");
    const LEN: usize = 8 + 32 + 4 + 8 * 4 + 32 + 32 + 2 * CID_LEN + 4 * 8 + 8 + 8 + 1 + 8 + 1;
    const TAGS: &'static [(usize, u8)] = &[(offset_of!(Round, finalized), 1)];
}

const _: () = assert!(core::mem::size_of::<Round>() + 8 == Round::LEN);

#[cfg(test)]
mod tests {
    use super::*;

    fn round(deadline: i64, eligible: u32, submitted: u32, revealed: u32) -> Round {
        Round {
            pool: Address::new_from_array([1; 32]),
            round: 1,
            opened_at: 0,
            deadline,
            reveal_deadline: deadline + 100,
            expires_at: deadline + 200,
            base_model_hash: [0; 32],
            global_model_hash: [0; 32],
            global_model_cid: [0; CID_LEN],
            record_cid: [0; CID_LEN],
            eligible_count: eligible,
            submission_count: submitted,
            revealed_count: revealed,
            judged_count: 0,
            accepted_count: 0,
            excluded_count: 0,
            slashed_count: 0,
            total_score: 0,
            reward_budget: 0,
            reward_accrued: 0,
            finalized: false,
            finalized_at: 0,
            bump: 255,
        }
    }

    #[test]
    fn round_round_trips_and_checks_its_flag() {
        let mut value = round(10, 3, 2, 1);
        value.finalized = true;
        super::super::tests::round_trips(value);
    }

    #[test]
    fn submission_phase_closes_at_deadline_or_full_participation() {
        assert!(!round(10, 3, 2, 0).submissions_closed(9));
        assert!(round(10, 3, 2, 0).submissions_closed(10));
        assert!(round(10, 3, 3, 0).submissions_closed(0));
    }

    #[test]
    fn reveal_phase_closes_at_reveal_deadline_or_when_all_revealed_after_submissions() {
        // everyone committed and revealed: over before any deadline
        assert!(round(10, 2, 2, 2).reveals_closed(0));
        // one reveal missing: open until the reveal deadline
        assert!(!round(10, 2, 2, 1).reveals_closed(109));
        assert!(round(10, 2, 2, 1).reveals_closed(110));
        // nobody committed: "all revealed" only once the submission phase closed
        assert!(!round(10, 2, 0, 0).reveals_closed(9));
        assert!(round(10, 2, 0, 0).reveals_closed(10));
    }
}
