//! Events, emitted Anchor-style: one `sol_log_data` entry holding
//! `sha256("event:<Name>")[..8] ‖ borsh(fields)`.

use crate::{codec::Writer, discriminator::anchor_tag, state::pool::Hash, syscalls};
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
}

impl Event for PoolCreated {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("event", "PoolCreated");
    fn write(&self, w: &mut Writer) -> Result<(), ProgramError> {
        w.address(&self.pool)?;
        w.address(&self.organization)?;
        w.address(&self.aggregator)?;
        w.u64(self.pool_id)?;
        w.u32(self.max_rounds)?;
        w.u64(self.reward_per_round)
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
}

impl Event for TrainingStarted {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("event", "TrainingStarted");
    fn write(&self, w: &mut Writer) -> Result<(), ProgramError> {
        w.address(&self.pool)?;
        w.u32(self.round)?;
        w.i64(self.deadline)
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

pub struct SubmissionJudged {
    pub pool: Address,
    pub wallet: Address,
    pub round: u32,
    pub verdict: u8,
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
        w.u8(self.verdict)?;
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
    pub rejected_count: u32,
    pub reward_accrued: u64,
    pub finished: bool,
}

impl Event for RoundFinalized {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("event", "RoundFinalized");
    fn write(&self, w: &mut Writer) -> Result<(), ProgramError> {
        w.address(&self.pool)?;
        w.u32(self.round)?;
        w.bytes(&self.global_model_hash)?;
        w.u32(self.accepted_count)?;
        w.u32(self.rejected_count)?;
        w.u64(self.reward_accrued)?;
        w.bool(self.finished)
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
}

impl Event for StakeWithdrawn {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("event", "StakeWithdrawn");
    fn write(&self, w: &mut Writer) -> Result<(), ProgramError> {
        w.address(&self.pool)?;
        w.address(&self.wallet)?;
        w.u64(self.amount)
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
    pub returned: u64,
}

impl Event for PoolClosed {
    const DISCRIMINATOR: [u8; 8] = anchor_tag("event", "PoolClosed");
    fn write(&self, w: &mut Writer) -> Result<(), ProgramError> {
        w.address(&self.pool)?;
        w.u64(self.returned)
    }
}
