//! Events, emitted Anchor-style: one `sol_log_data` entry holding
//! `sha256("event:<Name>")[..8] ‖ borsh(fields)`.

use crate::{
    discriminator::anchor_tag,
    errors::FedstakeError,
    state::{
        pool::{Cid, Hash},
        RewardPolicy, Verdict,
    },
    syscalls,
};
use pinocchio::{error::ProgramError, Address};

/// An event is a `#[repr(C, packed)]` struct of plain fields in IDL order:
/// its bytes are its borsh encoding.
///
/// # Safety
/// Implementors are packed structs without padding whose fields are byte
/// arrays, `Address`, integers, bools and `u8` enums.
pub unsafe trait Event: Copy {
    const DISCRIMINATOR: [u8; 8];
}

/// Logs `discriminator ‖ fields` as one `Program data:` entry.
pub fn emit<E: Event>(event: &E) -> Result<(), ProgramError> {
    #[repr(C, align(8))]
    struct Buffer([u8; 256]);
    let size = core::mem::size_of::<E>();
    if size + 8 > 256 {
        return Err(FedstakeError::InvalidAccountData.into());
    }
    let mut buffer = Buffer([0; 256]);
    buffer.0[..8].copy_from_slice(&E::DISCRIMINATOR);
    // SAFETY: `E` is packed plain data without padding (trait contract), so
    // all `size` bytes of it are initialized.
    let fields = unsafe { core::slice::from_raw_parts(event as *const E as *const u8, size) };
    syscalls::copy(&mut buffer.0[8..8 + size], fields);
    syscalls::log_data(&[&buffer.0[..8 + size]]);
    Ok(())
}

#[derive(Clone, Copy)]
#[repr(C, packed)]
pub struct PoolCreated {
    pub pool: Address,
    pub organization: Address,
    pub aggregator: Address,
    pub pool_id: u64,
    pub max_rounds: u32,
    pub reward_per_round: u64,
    pub reward_policy: RewardPolicy,
}

// SAFETY: packed plain data.
unsafe impl Event for PoolCreated {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("event", "PoolCreated");
}

#[derive(Clone, Copy)]
#[repr(C, packed)]
pub struct PoolFunded {
    pub pool: Address,
    pub funder: Address,
    pub amount: u64,
    pub total_funded: u64,
}

// SAFETY: packed plain data.
unsafe impl Event for PoolFunded {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("event", "PoolFunded");
}

#[derive(Clone, Copy)]
#[repr(C, packed)]
pub struct ParticipantJoined {
    pub pool: Address,
    pub wallet: Address,
    pub stake: u64,
    pub participant_count: u32,
}

// SAFETY: packed plain data.
unsafe impl Event for ParticipantJoined {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("event", "ParticipantJoined");
}

#[derive(Clone, Copy)]
#[repr(C, packed)]
pub struct TrainingStarted {
    pub pool: Address,
    pub round: u32,
    pub deadline: i64,
    pub reveal_deadline: i64,
    pub expires_at: i64,
}

// SAFETY: packed plain data.
unsafe impl Event for TrainingStarted {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("event", "TrainingStarted");
}

#[derive(Clone, Copy)]
#[repr(C, packed)]
pub struct UpdateSubmitted {
    pub pool: Address,
    pub wallet: Address,
    pub round: u32,
    pub update_commitment: Hash,
    pub num_samples: u64,
}

// SAFETY: packed plain data.
unsafe impl Event for UpdateSubmitted {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("event", "UpdateSubmitted");
}

#[derive(Clone, Copy)]
#[repr(C, packed)]
pub struct UpdateRevealed {
    pub pool: Address,
    pub wallet: Address,
    pub round: u32,
    pub update_hash: Hash,
    pub update_cid: Cid,
    pub revealed_count: u32,
}

// SAFETY: packed plain data.
unsafe impl Event for UpdateRevealed {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("event", "UpdateRevealed");
}

#[derive(Clone, Copy)]
#[repr(C, packed)]
pub struct SubmissionJudged {
    pub pool: Address,
    pub wallet: Address,
    pub round: u32,
    pub verdict: Verdict,
    pub score: u32,
    pub reason: u8,
    pub reward: u64,
    pub slashed: u64,
}

// SAFETY: packed plain data.
unsafe impl Event for SubmissionJudged {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("event", "SubmissionJudged");
}

#[derive(Clone, Copy)]
#[repr(C, packed)]
pub struct RoundFinalized {
    pub pool: Address,
    pub round: u32,
    pub global_model_hash: Hash,
    pub accepted_count: u32,
    pub excluded_count: u32,
    pub slashed_count: u32,
    pub reward_accrued: u64,
    pub finished: bool,
    /// The next round's submission deadline (0 when the pool finished).
    pub next_deadline: i64,
}

// SAFETY: packed plain data.
unsafe impl Event for RoundFinalized {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("event", "RoundFinalized");
}

#[derive(Clone, Copy)]
#[repr(C, packed)]
pub struct RewardClaimed {
    pub pool: Address,
    pub wallet: Address,
    pub payout_wallet: Address,
    pub amount: u64,
}

// SAFETY: packed plain data.
unsafe impl Event for RewardClaimed {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("event", "RewardClaimed");
}

#[derive(Clone, Copy)]
#[repr(C, packed)]
pub struct StakeWithdrawn {
    pub pool: Address,
    pub wallet: Address,
    pub amount: u64,
    /// Whether the participant account was closed (no reward left unpaid).
    pub closed: bool,
}

// SAFETY: packed plain data.
unsafe impl Event for StakeWithdrawn {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("event", "StakeWithdrawn");
}

#[derive(Clone, Copy)]
#[repr(C, packed)]
pub struct PoolCancelled {
    pub pool: Address,
    pub refunded: u64,
}

// SAFETY: packed plain data.
unsafe impl Event for PoolCancelled {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("event", "PoolCancelled");
}

#[derive(Clone, Copy)]
#[repr(C, packed)]
pub struct SubmissionClosed {
    pub pool: Address,
    pub wallet: Address,
    pub round: u32,
}

// SAFETY: packed plain data.
unsafe impl Event for SubmissionClosed {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("event", "SubmissionClosed");
}

#[derive(Clone, Copy)]
#[repr(C, packed)]
pub struct PoolClosed {
    pub pool: Address,
    pub closer: Address,
    pub returned: u64,
}

// SAFETY: packed plain data.
unsafe impl Event for PoolClosed {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("event", "PoolClosed");
}

#[derive(Clone, Copy)]
#[repr(C, packed)]
pub struct RoundExpired {
    pub pool: Address,
    pub round: u32,
    pub expires_at: i64,
    pub ended_at: i64,
}

// SAFETY: packed plain data.
unsafe impl Event for RoundExpired {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("event", "RoundExpired");
}

#[derive(Clone, Copy)]
#[repr(C, packed)]
pub struct PoolExpired {
    pub pool: Address,
    pub join_deadline: i64,
    pub ended_at: i64,
}

// SAFETY: packed plain data.
unsafe impl Event for PoolExpired {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("event", "PoolExpired");
}

#[derive(Clone, Copy)]
#[repr(C, packed)]
pub struct FundingReclaimed {
    pub pool: Address,
    pub organization: Address,
    pub amount: u64,
    pub total_refunded: u64,
}

// SAFETY: packed plain data.
unsafe impl Event for FundingReclaimed {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("event", "FundingReclaimed");
}

#[derive(Clone, Copy)]
#[repr(C, packed)]
pub struct ParticipantSettled {
    pub pool: Address,
    pub wallet: Address,
    /// Stake returned to the participant's wallet.
    pub stake_returned: u64,
    /// Unpaid reward given up (reclaimable by the organization).
    pub forfeited: u64,
}

// SAFETY: packed plain data.
unsafe impl Event for ParticipantSettled {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("event", "ParticipantSettled");
}
