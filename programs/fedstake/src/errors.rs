//! Every error the program returns, numbered from 6000 like Anchor's custom
//! errors, and Anchor's log line for each.
//!
//! One table below is the single source: the enum (each variant documented
//! `<code>: <message>.`), its name and message, and the line Anchor logs before
//! returning a custom error. `idl/build_idl.py` reads the same table into the
//! IDL's `errors`, so clients and logs agree on names, numbers and messages.
//! Codes are append-only: existing numbers never change.

use pinocchio::error::ProgramError;

macro_rules! fedstake_errors {
    ($($code:literal $name:ident $msg:literal,)*) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u32)]
        pub enum FedstakeError {
            $(#[doc = concat!(stringify!($code), ": ", $msg, ".")] $name = $code,)*
        }

        impl FedstakeError {
            /// Every error, in code order (index = code − 6000).
            pub const ALL: &'static [FedstakeError] = &[$(FedstakeError::$name,)*];

            /// The variant's name, as in the IDL (`Error Code:` in Anchor's line).
            pub const fn name(self) -> &'static str {
                match self { $(Self::$name => stringify!($name),)* }
            }

            /// The IDL's `msg` for this error.
            pub const fn message(self) -> &'static str {
                match self { $(Self::$name => $msg,)* }
            }

            /// Anchor's error line without the runtime's `Program log: ` prefix:
            /// `AnchorError occurred. Error Code: <Name>. Error Number: <n>.
            /// Error Message: <msg>.` (anchor-lang `AnchorError`'s `Display`).
            pub const fn anchor_log_line(self) -> &'static str {
                match self {
                    $(Self::$name => concat!(
                        "AnchorError occurred. Error Code: ", stringify!($name),
                        ". Error Number: ", stringify!($code),
                        ". Error Message: ", $msg, "."
                    ),)*
                }
            }
        }
    };
}

fedstake_errors! {
    6000 UnknownInstruction "the first 8 bytes name no instruction of this program",
    6001 InvalidInstructionData "instruction arguments are too short, too long or malformed",
    6002 NotEnoughAccounts "fewer accounts than the instruction needs",
    6003 MissingSigner "an account that must sign did not",
    6004 AccountNotWritable "an account that must be writable is read-only",
    6005 InvalidOwner "an account is not owned by the expected program",
    6006 InvalidDiscriminator "an account's 8-byte discriminator is not the expected type's",
    6007 InvalidAccountData "an account's data has the wrong length",
    6008 InvalidPda "an account is not the PDA of its seeds at its bump (stored, or passed and off the curve)",
    6009 AlreadyInitialized "the account to create already exists",
    6010 InvalidSystemProgram "the system program account is not the system program",
    6011 DuplicateAccount "the same account was passed where two different ones are required",
    6012 Unauthorized "the signer is not the pool's organization or aggregator",
    6013 AccountMismatch "an account belongs to another pool or another wallet",
    6014 InvalidParameter "a pool parameter is out of range",
    6015 InvalidPoolStatus "the pool's status does not allow this instruction",
    6016 JoinClosed "the join deadline has passed",
    6017 PoolFull "the pool has reached max_participants",
    6018 StakeTooLow "the stake is below the pool's min_stake",
    6019 InsufficientFunding "funding is below reward_per_round × max_rounds",
    6020 NoParticipants "training cannot start without participants",
    6021 WrongRound "the round argument is not the pool's open round",
    6022 RoundDeadlinePassed "the round's submission deadline has passed",
    6023 RoundStillOpen "the submission phase is still open: wait for the deadline or for every eligible participant's commitment",
    6024 StaleBaseModel "the update's base model is not the pool's current global model",
    6025 ParticipantNotActive "the participant was slashed or has exited",
    6026 AlreadyJudged "the submission already has a verdict",
    6027 InvalidVerdict "verdict, reason and score do not form an allowed verdict for this submission",
    6028 ScoreBudgetExceeded "accepted scores of a round would exceed 10,000 basis points",
    6029 PendingJudgements "some submissions of the round are still waiting for a verdict",
    6030 RoundAlreadyFinalized "the round has already been finalized",
    6031 InvalidCommitment "sha256(payout_wallet ‖ salt) does not match the commitment",
    6032 NothingToClaim "there is no unpaid reward to claim",
    6033 RewardUnclaimed "nothing to withdraw: the account stays open until its reward is claimed or settled",
    6034 ParticipantsRemaining "participant accounts of the pool are still open",
    6035 SubmissionNotSettled "the submission's round is not over yet",
    6036 ArithmeticOverflow "checked arithmetic overflowed or underflowed",
    6037 InvalidAmount "the amount must be greater than zero",
    6038 EmptyHash "a hash or CID argument is empty",
    6039 InvalidAggregator "the aggregator must be a key that can sign, not the default address",
    6040 PoolIdRetired "this pool id belonged to a pool that trained and was closed: choose another id",
    6041 AlreadyRevealed "the update of this submission was already revealed",
    6042 RevealClosed "the round's reveal deadline has passed",
    6043 RevealStillOpen "the reveal phase is still open: wait for the reveal deadline or for every reveal",
    6044 ExpiryReached "the grace period is over: the pool or round can only be expired",
    6045 ExpiryNotReached "the grace period has not ended yet",
    6046 ClaimWindowOpen "the claim window after the pool's end is still open",
    6047 NothingToReclaim "no funding is left to return to the organization",
    6048 UpdateCommitmentMismatch "sha256(update_hash ‖ wallet) does not match the submission's update commitment",
    6049 AlreadySubmitted "this participant already committed to an update for this round",
}

impl FedstakeError {
    /// The error with custom code `code`, if it is one of ours.
    pub fn from_code(code: u32) -> Option<Self> {
        let index = code.checked_sub(6000)?;
        Self::ALL.get(index as usize).copied()
    }
}

impl From<FedstakeError> for ProgramError {
    fn from(error: FedstakeError) -> Self {
        ProgramError::Custom(error as u32)
    }
}

/// Logs Anchor's error line for `error` if it is one of this program's custom
/// errors, so Anchor clients (`AnchorError.parse`, `translateError`) name it.
/// Costs one `sol_log_` call with a string fixed at compile time.
#[inline(never)]
pub fn log(error: &ProgramError) {
    if cfg!(feature = "no-error-line") {
        return;
    }
    if let ProgramError::Custom(code) = error {
        if let Some(known) = FedstakeError::from_code(*code) {
            crate::syscalls::log(known.anchor_log_line());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_sequential_from_6000() {
        for (index, error) in FedstakeError::ALL.iter().enumerate() {
            assert_eq!(*error as u32, 6000 + index as u32, "{}", error.name());
            assert_eq!(FedstakeError::from_code(*error as u32), Some(*error));
        }
        assert_eq!(FedstakeError::from_code(5999), None);
        assert_eq!(
            FedstakeError::from_code(6000 + FedstakeError::ALL.len() as u32),
            None
        );
        assert_eq!(
            ProgramError::from(FedstakeError::InvalidCommitment),
            ProgramError::Custom(6031)
        );
    }

    #[test]
    fn anchor_line_has_anchors_shape() {
        assert_eq!(
            FedstakeError::Unauthorized.anchor_log_line(),
            "AnchorError occurred. Error Code: Unauthorized. Error Number: 6012. \
             Error Message: the signer is not the pool's organization or aggregator."
        );
        for error in FedstakeError::ALL {
            let line = error.anchor_log_line();
            assert!(line.contains(&format!("Error Code: {}.", error.name())));
            assert!(line.contains(&format!("Error Number: {}.", *error as u32)));
            assert!(line.ends_with(&format!("Error Message: {}.", error.message())));
            assert!(!error.message().ends_with('.'), "Anchor appends the period");
        }
    }
}
