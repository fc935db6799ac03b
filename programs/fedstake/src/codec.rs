//! Borsh-compatible little-endian reader for instruction arguments.
//!
//! Every argument list of this program is fixed size, so borsh reduces to
//! packed little-endian fields; the cursor checks every length. (Accounts and
//! events are packed structs whose bytes are their borsh encoding: see
//! `state` and `events`.)

use crate::errors::FedstakeError;
use pinocchio::{error::ProgramError, Address};

pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    error: FedstakeError,
}

impl<'a> Reader<'a> {
    /// `error` is returned for short or over-long input (instruction data and
    /// account data fail with different named errors).
    pub fn new(data: &'a [u8], error: FedstakeError) -> Self {
        Self {
            data,
            pos: 0,
            error,
        }
    }

    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], ProgramError> {
        let end = self.pos.checked_add(N).ok_or(self.error)?;
        let slice = self.data.get(self.pos..end).ok_or(self.error)?;
        self.pos = end;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    #[inline(always)]
    pub fn u8(&mut self) -> Result<u8, ProgramError> {
        Ok(self.array::<1>()?[0])
    }

    #[inline(always)]
    pub fn u16(&mut self) -> Result<u16, ProgramError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    #[inline(always)]
    pub fn u32(&mut self) -> Result<u32, ProgramError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    #[inline(always)]
    pub fn u64(&mut self) -> Result<u64, ProgramError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    #[inline(always)]
    pub fn i64(&mut self) -> Result<i64, ProgramError> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    #[inline(always)]
    pub fn address(&mut self) -> Result<Address, ProgramError> {
        Ok(Address::new_from_array(self.array()?))
    }

    #[inline(always)]
    pub fn bool(&mut self) -> Result<bool, ProgramError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(self.error.into()),
        }
    }

    /// Fails unless every byte was consumed (no trailing garbage accepted).
    pub fn finish(self) -> Result<(), ProgramError> {
        if self.pos == self.data.len() {
            Ok(())
        } else {
            Err(self.error.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_rejects_short_and_trailing_input() {
        let mut short = Reader::new(&[1, 2, 3], FedstakeError::InvalidInstructionData);
        assert_eq!(
            short.u32(),
            Err(ProgramError::Custom(
                FedstakeError::InvalidInstructionData as u32
            ))
        );
        let mut long = Reader::new(&[1, 0, 0, 0, 9], FedstakeError::InvalidInstructionData);
        assert_eq!(long.u32(), Ok(1));
        assert!(long.finish().is_err());
    }

    #[test]
    fn reader_rejects_non_boolean_byte() {
        let mut r = Reader::new(&[2], FedstakeError::InvalidInstructionData);
        assert!(r.bool().is_err());
    }
}
