//! Events, emitted Anchor-style: one `sol_log_data` entry holding
//! `sha256("event:<Name>")[..8] ‖ borsh(fields)`.

use crate::{
    codec::Writer,
    discriminator::anchor_tag,
    state::{
        pool::{Cid, Hash},
        RewardPolicy, Verdict,
    },
    syscalls,
};
use pinocchio::{error::ProgramError, Address};

pub trait Event {
    const DISCRIMINATOR: [u8; 8];
    fn write(&self, writer: &mut Writer) -> Result<(), ProgramError>;
}

/// Serializes `event` on the stack and logs it.
pub fn emit<E: Event>(event: &E) -> Result<(), ProgramError> {
    let mut buffer = [0u8; 256];
    let mut writer = Writer::new(&mut buffer);
    writer.bytes(&E::DISCRIMINATOR)?;
    event.write(&mut writer)?;
    let len = writer.position();
    syscalls::log_data(&[&buffer[..len]]);
    Ok(())
}

pub struct PoolCreated {
    pub pool: Address,
    pub organization: Address,
    pub aggregator: Address,
    pub pool_id: u64,
    pub max_rounds: u32,
    pub reward_per_round: u64,
    pub reward_policy: RewardPolicy,
}

impl Event for PoolCreated {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("event", "PoolCreated");
    fn write(&self, w: &mut Writer) -> Result<(), ProgramError> {
        w.address(&self.pool)?;
        w.address(&self.organization)?;
        w.address(&self.aggregator)?;
        w.u64(self.pool_id)?;
        w.u32(self.max_rounds)?;
        w.u64(self.reward_per_round)?;
        w.u8(self.reward_policy as u8)
    }
}

pub struct PoolFunded {
    pub pool: Address,
    pub funder: Address,
    pub amount: u64,
    pub total_funded: u64,
}

impl Event for PoolFunded {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("event", "PoolFunded");
    fn write(&self, w: &mut Writer) -> Result<(), ProgramError> {
        w.address(&self.pool)?;
        w.address(&self.funder)?;
        w.u64(self.amount)?;
        w.u64(self.total_funded)
    }
}

pub struct ParticipantJoined {
    pub pool: Address,
    pub wallet: Address,
    pub stake: u64,
    pub participant_count: u32,
}

impl Event for ParticipantJoined {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("event", "ParticipantJoined");
    fn write(&self, w: &mut Writer) -> Result<(), ProgramError> {
        w.address(&self.pool)?;
        w.address(&self.wallet)?;
        w.u64(self.stake)?;
        w.u32(self.participant_count)
    }
}

pub struct TrainingStarted {
    pub pool: Address,
    pub round: u32,
    pub deadline: i64,
    pub reveal_deadline: i64,
    pub expires_at: i64,
}

impl Event for TrainingStarted {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("event", "TrainingStarted");
    fn write(&self, w: &mut Writer) -> Result<(), ProgramError> {
        w.address(&self.pool)?;
        w.u32(self.round)?;
        w.i64(self.deadline)?;
        w.i64(self.reveal_deadline)?;
        w.i64(self.expires_at)
    }
}

pub struct UpdateSubmitted {
    pub pool: Address,
    pub wallet: Address,
    pub round: u32,
    pub update_hash: Hash,
    pub num_samples: u64,
}

impl Event for UpdateSubmitted {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("event", "UpdateSubmitted");
    fn write(&self, w: &mut Writer) -> Result<(), ProgramError> {
        w.address(&self.pool)?;
        w.address(&self.wallet)?;
        w.u32(self.round)?;
        w.bytes(&self.update_hash)?;
        w.u64(self.num_samples)
    }
}

pub struct UpdateRevealed {
    pub pool: Address,
    pub wallet: Address,
    pub round: u32,
    pub update_cid: Cid,
    pub revealed_count: u32,
}

impl Event for UpdateRevealed {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("event", "UpdateRevealed");
    fn write(&self, w: &mut Writer) -> Result<(), ProgramError> {
        w.address(&self.pool)?;
        w.address(&self.wallet)?;
        w.u32(self.round)?;
        w.bytes(&self.update_cid)?;
        w.u32(self.revealed_count)
    }
}

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

impl Event for SubmissionJudged {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("event", "SubmissionJudged");
    fn write(&self, w: &mut Writer) -> Result<(), ProgramError> {
        w.address(&self.pool)?;
        w.address(&self.wallet)?;
        w.u32(self.round)?;
        w.u8(self.verdict as u8)?;
        w.u32(self.score)?;
        w.u8(self.reason)?;
        w.u64(self.reward)?;
        w.u64(self.slashed)
    }
}

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

impl Event for RoundFinalized {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("event", "RoundFinalized");
    fn write(&self, w: &mut Writer) -> Result<(), ProgramError> {
        w.address(&self.pool)?;
        w.u32(self.round)?;
        w.bytes(&self.global_model_hash)?;
        w.u32(self.accepted_count)?;
        w.u32(self.excluded_count)?;
        w.u32(self.slashed_count)?;
        w.u64(self.reward_accrued)?;
        w.bool(self.finished)?;
        w.i64(self.next_deadline)
    }
}

pub struct RewardClaimed {
    pub pool: Address,
    pub wallet: Address,
    pub payout_wallet: Address,
    pub amount: u64,
}

impl Event for RewardClaimed {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("event", "RewardClaimed");
    fn write(&self, w: &mut Writer) -> Result<(), ProgramError> {
        w.address(&self.pool)?;
        w.address(&self.wallet)?;
        w.address(&self.payout_wallet)?;
        w.u64(self.amount)
    }
}

pub struct StakeWithdrawn {
    pub pool: Address,
    pub wallet: Address,
    pub amount: u64,
    /// Whether the participant account was closed (no reward left unpaid).
    pub closed: bool,
}

impl Event for StakeWithdrawn {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("event", "StakeWithdrawn");
    fn write(&self, w: &mut Writer) -> Result<(), ProgramError> {
        w.address(&self.pool)?;
        w.address(&self.wallet)?;
        w.u64(self.amount)?;
        w.bool(self.closed)
    }
}

pub struct PoolCancelled {
    pub pool: Address,
    pub refunded: u64,
}

impl Event for PoolCancelled {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("event", "PoolCancelled");
    fn write(&self, w: &mut Writer) -> Result<(), ProgramError> {
        w.address(&self.pool)?;
        w.u64(self.refunded)
    }
}

pub struct SubmissionClosed {
    pub pool: Address,
    pub wallet: Address,
    pub round: u32,
}

impl Event for SubmissionClosed {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("event", "SubmissionClosed");
    fn write(&self, w: &mut Writer) -> Result<(), ProgramError> {
        w.address(&self.pool)?;
        w.address(&self.wallet)?;
        w.u32(self.round)
    }
}

pub struct PoolClosed {
    pub pool: Address,
    pub closer: Address,
    pub returned: u64,
}

impl Event for PoolClosed {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("event", "PoolClosed");
    fn write(&self, w: &mut Writer) -> Result<(), ProgramError> {
        w.address(&self.pool)?;
        w.address(&self.closer)?;
        w.u64(self.returned)
    }
}

pub struct RoundExpired {
    pub pool: Address,
    pub round: u32,
    pub expires_at: i64,
    pub ended_at: i64,
}

impl Event for RoundExpired {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("event", "RoundExpired");
    fn write(&self, w: &mut Writer) -> Result<(), ProgramError> {
        w.address(&self.pool)?;
        w.u32(self.round)?;
        w.i64(self.expires_at)?;
        w.i64(self.ended_at)
    }
}

pub struct PoolExpired {
    pub pool: Address,
    pub join_deadline: i64,
    pub ended_at: i64,
}

impl Event for PoolExpired {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("event", "PoolExpired");
    fn write(&self, w: &mut Writer) -> Result<(), ProgramError> {
        w.address(&self.pool)?;
        w.i64(self.join_deadline)?;
        w.i64(self.ended_at)
    }
}

pub struct FundingReclaimed {
    pub pool: Address,
    pub organization: Address,
    pub amount: u64,
    pub total_refunded: u64,
}

impl Event for FundingReclaimed {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("event", "FundingReclaimed");
    fn write(&self, w: &mut Writer) -> Result<(), ProgramError> {
        w.address(&self.pool)?;
        w.address(&self.organization)?;
        w.u64(self.amount)?;
        w.u64(self.total_refunded)
    }
}

pub struct ParticipantSettled {
    pub pool: Address,
    pub wallet: Address,
    /// Stake returned to the participant's wallet.
    pub stake_returned: u64,
    /// Unpaid reward given up (reclaimable by the organization).
    pub forfeited: u64,
}

impl Event for ParticipantSettled {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("event", "ParticipantSettled");
    fn write(&self, w: &mut Writer) -> Result<(), ProgramError> {
        w.address(&self.pool)?;
        w.address(&self.wallet)?;
        w.u64(self.stake_returned)?;
        w.u64(self.forfeited)
    }
}
