//! Account types: one file each, with seeds, layout length and field order.
//!
//! Every account is `discriminator ‖ fields`, the fields packed in declaration
//! order with no padding — exactly borsh's encoding of the same struct, which
//! is what the IDL describes. Each type is a `#[repr(C, packed)]` struct of
//! plain bytes and integers, so loading and storing is one `sol_memcpy_` each
//! (10 CU) instead of a field-by-field codec (the upstream BPF backend turns
//! every unaligned integer access into byte loads). Enum and bool fields are
//! checked against their valid values before the bytes are read as the type.

pub mod participant;
pub mod pool;
pub mod round;
pub mod submission;

pub use participant::{Participant, ParticipantStatus};
pub use pool::{Pool, PoolStatus, RewardPolicy};
pub use round::Round;
pub use submission::{Submission, Verdict};

use crate::{errors::FedstakeError, guards, syscalls};
use core::mem::{size_of, MaybeUninit};
use pinocchio::{error::ProgramError, AccountView, Address};

/// Fixed-size account stored as `discriminator ‖ packed fields`.
///
/// # Safety
/// Implementors are `#[repr(C, packed)]` structs whose fields are byte arrays,
/// `Address`, integers, and `u8` enums/bools listed in `TAGS` (every other bit
/// pattern of every field is a valid value), with `LEN == 8 + size_of::<Self>()`.
pub unsafe trait AccountState: Copy {
    const DISCRIMINATOR: [u8; 8];
    /// Total length in bytes, discriminator included.
    const LEN: usize;
    /// `(offset after the discriminator, largest valid value)` of each enum or
    /// bool field.
    const TAGS: &'static [(usize, u8)];

    /// Decodes an account into `slot` after checking owner, length,
    /// discriminator and enum tags, in that order (owner first: data of
    /// foreign accounts is never trusted). Filling a caller's slot instead of
    /// returning the value saves copying it (byte by byte: it is packed).
    fn load<'a>(
        slot: &'a mut MaybeUninit<Self>,
        account: &AccountView,
        program_id: &Address,
    ) -> Result<&'a mut Self, ProgramError> {
        guards::owner(account, program_id)?;
        if account.data_len() != Self::LEN {
            return Err(FedstakeError::InvalidAccountData.into());
        }
        let data = account.try_borrow()?;
        let (discriminator, fields) = data.split_at(8);
        if discriminator != Self::DISCRIMINATOR {
            return Err(FedstakeError::InvalidDiscriminator.into());
        }
        read_into(slot, fields)
    }

    /// Writes discriminator and fields back into the account.
    fn store(&self, account: &mut AccountView) -> Result<(), ProgramError> {
        let mut data = account.try_borrow_mut()?;
        if data.len() != Self::LEN {
            return Err(FedstakeError::InvalidAccountData.into());
        }
        let (discriminator, fields) = data.split_at_mut(8);
        discriminator.copy_from_slice(&Self::DISCRIMINATOR);
        syscalls::copy(fields, as_bytes(self));
        Ok(())
    }
}

/// Fills `slot` with the value stored in `fields` (`LEN - 8` bytes), after
/// checking its tags.
pub fn read_into<'a, T: AccountState>(
    slot: &'a mut MaybeUninit<T>,
    fields: &[u8],
) -> Result<&'a mut T, ProgramError> {
    if fields.len() != size_of::<T>() {
        return Err(FedstakeError::InvalidAccountData.into());
    }
    for (offset, max) in T::TAGS {
        if fields[*offset] > *max {
            return Err(FedstakeError::InvalidAccountData.into());
        }
    }
    // SAFETY: `slot` has room for `size_of::<T>()` bytes (alignment 1, packed);
    // `fields` holds exactly that many; every tag was checked above, and every
    // other field accepts any bit pattern (trait contract), so the slot holds
    // a valid `T` once filled.
    unsafe {
        let out = core::slice::from_raw_parts_mut(slot.as_mut_ptr() as *mut u8, size_of::<T>());
        syscalls::copy(out, fields);
        Ok(slot.assume_init_mut())
    }
}

/// `load!(name = loader(args…));` binds `name: &mut T` loaded by `loader`
/// (`T::load` or an `instructions::load_*` helper) into a stack slot of its
/// own, so the packed value is never moved.
#[macro_export]
macro_rules! load {
    ($name:ident = $loader:path, ($($arg:expr),* $(,)?)) => {
        let mut slot = core::mem::MaybeUninit::uninit();
        let $name = $loader(&mut slot, $($arg),*)?;
    };
}

/// The packed bytes of `value` (its borsh encoding).
pub fn as_bytes<T: AccountState>(value: &T) -> &[u8] {
    // SAFETY: `T` is packed plain data (trait contract): no padding, so every
    // byte of it is initialized.
    unsafe { core::slice::from_raw_parts(value as *const T as *const u8, size_of::<T>()) }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Checks `value` survives bytes → value and its tags are enforced.
    pub fn round_trips<T: AccountState + PartialEq + core::fmt::Debug>(value: T) {
        assert_eq!(
            size_of::<T>() + 8,
            T::LEN,
            "no padding: LEN is the field sum"
        );
        let bytes = as_bytes(&value).to_vec();
        let mut slot = MaybeUninit::uninit();
        assert_eq!(read_into::<T>(&mut slot, &bytes).copied(), Ok(value));
        assert!(
            read_into::<T>(&mut slot, &bytes[1..]).is_err(),
            "short data is refused"
        );
        for (offset, max) in T::TAGS {
            let mut bad = bytes.clone();
            bad[*offset] = max + 1;
            assert_eq!(
                read_into::<T>(&mut slot, &bad).copied(),
                Err(FedstakeError::InvalidAccountData.into()),
                "tag at {offset} above {max}"
            );
        }
    }
}
