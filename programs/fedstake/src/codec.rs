//! Borsh-compatible little-endian readers and writers for fixed layouts.
//!
//! Every account and argument of this program is fixed size, so borsh reduces to
//! packed little-endian fields; these cursors check every length.

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

/// Writes into a buffer sized by the caller; a layout that does not fit is a
/// program bug, so it surfaces as `InvalidAccountData` rather than a panic.
pub struct Writer<'a> {
    data: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    pub fn new(data: &'a mut [u8]) -> Self {
        Self { data, pos: 0 }
    }

    pub fn bytes(&mut self, bytes: &[u8]) -> Result<(), ProgramError> {
        let end = self
            .pos
            .checked_add(bytes.len())
            .ok_or(FedstakeError::InvalidAccountData)?;
        let slot = self
            .data
            .get_mut(self.pos..end)
            .ok_or(FedstakeError::InvalidAccountData)?;
        slot.copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }

    pub fn u8(&mut self, value: u8) -> Result<(), ProgramError> {
        self.bytes(&[value])
    }

    pub fn u16(&mut self, value: u16) -> Result<(), ProgramError> {
        self.bytes(&value.to_le_bytes())
    }

    pub fn u32(&mut self, value: u32) -> Result<(), ProgramError> {
        self.bytes(&value.to_le_bytes())
    }

    pub fn u64(&mut self, value: u64) -> Result<(), ProgramError> {
        self.bytes(&value.to_le_bytes())
    }

    pub fn i64(&mut self, value: i64) -> Result<(), ProgramError> {
        self.bytes(&value.to_le_bytes())
    }

    pub fn address(&mut self, value: &Address) -> Result<(), ProgramError> {
        self.bytes(value.as_ref())
    }

    pub fn bool(&mut self, value: bool) -> Result<(), ProgramError> {
        self.u8(u8::from(value))
    }

    pub fn position(&self) -> usize {
        self.pos
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
    fn writer_round_trips_through_reader() {
        let mut buf = [0u8; 8 + 2 + 1];
        let mut w = Writer::new(&mut buf);
        w.i64(-5).unwrap();
        w.u16(513).unwrap();
        w.bool(true).unwrap();
        assert!(w.u8(0).is_err(), "writing past the end is an error");
        let mut r = Reader::new(&buf, FedstakeError::InvalidAccountData);
        assert_eq!(r.i64(), Ok(-5));
        assert_eq!(r.u16(), Ok(513));
        assert_eq!(r.bool(), Ok(true));
        r.finish().unwrap();
    }

    #[test]
    fn reader_rejects_non_boolean_byte() {
        let mut r = Reader::new(&[2], FedstakeError::InvalidInstructionData);
        assert!(r.bool().is_err());
    }
}
