//! Every error the program returns, numbered from 6000 like Anchor's custom
//! errors. The IDL lists the same names and codes; a test checks they agree.

use pinocchio::error::ProgramError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum FedstakeError {
    /// 6000: the first 8 bytes name no instruction of this program.
    UnknownInstruction = 6000,
    /// 6001: instruction arguments are too short, too long or malformed.
    InvalidInstructionData,
    /// 6002: fewer accounts than the instruction needs.
    NotEnoughAccounts,
    /// 6003: an account that must sign did not.
    MissingSigner,
    /// 6004: an account that must be writable is read-only.
    AccountNotWritable,
    /// 6005: an account is not owned by the expected program.
    InvalidOwner,
    /// 6006: an account's 8-byte discriminator is not the expected type's.
    InvalidDiscriminator,
    /// 6007: an account's data has the wrong length.
    InvalidAccountData,
    /// 6008: an account is not the PDA of its seeds with the stored canonical bump.
    InvalidPda,
    /// 6009: the account to create already exists.
    AlreadyInitialized,
    /// 6010: the system program account is not the system program.
    InvalidSystemProgram,
    /// 6011: the same account was passed where two different ones are required.
    DuplicateAccount,
    /// 6012: the signer is not the pool's organization or aggregator.
    Unauthorized,
    /// 6013: an account belongs to another pool or another wallet.
    AccountMismatch,
    /// 6014: a pool parameter is out of range.
    InvalidParameter,
    /// 6015: the pool's status does not allow this instruction.
    InvalidPoolStatus,
    /// 6016: the join deadline has passed.
    JoinClosed,
    /// 6017: the pool has reached max_participants.
    PoolFull,
    /// 6018: the stake is below the pool's min_stake.
    StakeTooLow,
    /// 6019: funding is below reward_per_round × max_rounds.
    InsufficientFunding,
    /// 6020: training cannot start without participants.
    NoParticipants,
    /// 6021: the round argument is not the pool's open round.
    WrongRound,
    /// 6022: the round's deadline has passed.
    RoundDeadlinePassed,
    /// 6023: the round can be finalized only after its deadline or once every
    /// eligible participant has submitted.
    RoundStillOpen,
    /// 6024: the update's base model is not the pool's current global model.
    StaleBaseModel,
    /// 6025: the participant was slashed or has exited.
    ParticipantNotActive,
    /// 6026: the submission already has a verdict.
    AlreadyJudged,
    /// 6027: verdict/score/reason combination is not allowed.
    InvalidVerdict,
    /// 6028: accepted scores of a round would exceed 10,000 basis points.
    ScoreBudgetExceeded,
    /// 6029: some submissions of the round are still waiting for a verdict.
    PendingJudgements,
    /// 6030: the round has already been finalized.
    RoundAlreadyFinalized,
    /// 6031: sha256(payout_wallet ‖ salt) does not match the commitment.
    InvalidCommitment,
    /// 6032: there is no unpaid reward to claim.
    NothingToClaim,
    /// 6033: claim the accrued reward before withdrawing the stake.
    RewardUnclaimed,
    /// 6034: participants still hold stakes in the pool.
    ParticipantsRemaining,
    /// 6035: the submission's round is not finalized yet.
    SubmissionNotSettled,
    /// 6036: checked arithmetic overflowed or underflowed.
    ArithmeticOverflow,
    /// 6037: the amount must be greater than zero.
    InvalidAmount,
    /// 6038: a hash or CID argument is empty.
    EmptyHash,
}

impl From<FedstakeError> for ProgramError {
    fn from(error: FedstakeError) -> Self {
        ProgramError::Custom(error as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_sequential_from_6000() {
        assert_eq!(FedstakeError::UnknownInstruction as u32, 6000);
        assert_eq!(FedstakeError::EmptyHash as u32, 6038);
        assert_eq!(
            ProgramError::from(FedstakeError::InvalidCommitment),
            ProgramError::Custom(6031)
        );
    }
}
