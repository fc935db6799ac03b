//! Account types: one file each, with seeds, layout length and borsh order.

pub mod participant;
pub mod pool;
pub mod round;
pub mod submission;

pub use participant::{Participant, ParticipantStatus};
pub use pool::{Pool, PoolStatus, RewardPolicy};
pub use round::Round;
pub use submission::{Submission, Verdict};

use crate::{
    codec::{Reader, Writer},
    errors::FedstakeError,
    guards,
};
use pinocchio::{error::ProgramError, AccountView, Address};

/// Fixed-size account stored as `discriminator ‖ borsh(fields)`.
pub trait AccountState: Sized {
    const DISCRIMINATOR: [u8; 8];
    /// Total length in bytes, discriminator included.
    const LEN: usize;

    fn read(reader: &mut Reader) -> Result<Self, ProgramError>;
    fn write(&self, writer: &mut Writer) -> Result<(), ProgramError>;

    /// Decodes an account after checking owner, length and discriminator, in
    /// that order (owner first: data of foreign accounts is never trusted).
    fn load(account: &AccountView, program_id: &Address) -> Result<Self, ProgramError> {
        guards::owner(account, program_id)?;
        if account.data_len() != Self::LEN {
            return Err(FedstakeError::InvalidAccountData.into());
        }
        let data = account.try_borrow()?;
        let mut reader = Reader::new(&data, FedstakeError::InvalidAccountData);
        if reader.array::<8>()? != Self::DISCRIMINATOR {
            return Err(FedstakeError::InvalidDiscriminator.into());
        }
        let value = Self::read(&mut reader)?;
        reader.finish()?;
        Ok(value)
    }

    /// Writes discriminator and fields back into the account.
    fn store(&self, account: &mut AccountView) -> Result<(), ProgramError> {
        let mut data = account.try_borrow_mut()?;
        let mut writer = Writer::new(&mut data);
        writer.bytes(&Self::DISCRIMINATOR)?;
        self.write(&mut writer)?;
        if writer.position() != Self::LEN {
            return Err(FedstakeError::InvalidAccountData.into());
        }
        Ok(())
    }
}

/// Reads a one-byte enum tag.
pub(crate) fn tag<T>(reader: &mut Reader, decode: fn(u8) -> Option<T>) -> Result<T, ProgramError> {
    decode(reader.u8()?).ok_or_else(|| FedstakeError::InvalidAccountData.into())
}
