//! `Participant` — seeds `["participant", pool, wallet]`.
//!
//! A trainer's stake, its payout commitment `sha256(payout_wallet ‖ salt)` and
//! its reward books.

use super::{pool::Hash, AccountState};
use crate::discriminator::anchor_tag;
use core::mem::offset_of;
use pinocchio::Address;

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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, packed)]
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
    /// The last round this participant committed to (0: none yet). It makes
    /// a submission once per participant and round, whatever its address's
    /// bump (`submit_update`).
    pub last_round: u32,
}

// SAFETY: packed plain data; every enum/bool field is listed in TAGS.
unsafe impl AccountState for Participant {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("account", "Participant");
    const LEN: usize = 8 + 32 + 32 + 8 + 32 + 1 + 4 * 3 + 8 + 8 + 8 + 1 + 4;
    const TAGS: &'static [(usize, u8)] = &[(offset_of!(Participant, status), 2)];
}

const _: () = assert!(core::mem::size_of::<Participant>() + 8 == Participant::LEN);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn participant_round_trips_and_checks_its_status() {
        super::super::tests::round_trips(Participant {
            pool: Address::new_from_array([1; 32]),
            wallet: Address::new_from_array([2; 32]),
            stake: u64::MAX,
            payout_commitment: [3; 32],
            status: ParticipantStatus::Exited,
            accepted_count: 1,
            excluded_count: 2,
            slashed_count: 3,
            reward_accrued: 4,
            reward_paid: 5,
            joined_at: -6,
            bump: 254,
            last_round: 7,
        });
    }
}
