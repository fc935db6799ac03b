//! Account checks shared by every instruction, each failing with a named error.

use crate::{errors::FedstakeError, syscalls};
use pinocchio::{error::ProgramError, AccountView, Address};

pub fn signer(account: &AccountView) -> Result<(), ProgramError> {
    if account.is_signer() {
        Ok(())
    } else {
        Err(FedstakeError::MissingSigner.into())
    }
}

pub fn writable(account: &AccountView) -> Result<(), ProgramError> {
    if account.is_writable() {
        Ok(())
    } else {
        Err(FedstakeError::AccountNotWritable.into())
    }
}

pub fn owner(account: &AccountView, program_id: &Address) -> Result<(), ProgramError> {
    if owned_by(account, program_id) {
        Ok(())
    } else {
        Err(FedstakeError::InvalidOwner.into())
    }
}

pub fn system_program(account: &AccountView) -> Result<(), ProgramError> {
    if syscalls::same_key(
        account.address().as_array(),
        pinocchio_system::ID.as_array(),
    ) {
        Ok(())
    } else {
        Err(FedstakeError::InvalidSystemProgram.into())
    }
}

/// `a == b` for keys, compared with `sol_memcmp_`.
#[inline(always)]
pub fn same(a: &Address, b: &Address) -> bool {
    syscalls::same_key(a.as_array(), b.as_array())
}

/// Whether `program` owns `account` (compared in place with `sol_memcmp_`).
#[inline(always)]
pub fn owned_by(account: &AccountView, program: &Address) -> bool {
    // SAFETY: `account_ptr` points at the runtime's account header, valid for
    // the whole instruction; only its `owner` field is read.
    let owner = unsafe { &(*account.account_ptr()).owner };
    syscalls::same_key(owner.as_array(), program.as_array())
}

/// No data and owned by the system program: never created, or closed (lamports
/// alone do not count: anyone may send lamports to any address).
pub fn is_empty(account: &AccountView) -> bool {
    owned_by(account, &pinocchio_system::ID) && account.data_len() == 0
}

/// An account about to be created: must not hold data or belong to a program.
pub fn uninitialized(account: &AccountView) -> Result<(), ProgramError> {
    if is_empty(account) {
        Ok(())
    } else {
        Err(FedstakeError::AlreadyInitialized.into())
    }
}

/// Two account slots that must not alias (lamport moves between them would
/// otherwise be no-ops that still update the books).
pub fn distinct(a: &AccountView, b: &AccountView) -> Result<(), ProgramError> {
    if syscalls::same_key(a.address().as_array(), b.address().as_array()) {
        Err(FedstakeError::DuplicateAccount.into())
    } else {
        Ok(())
    }
}

/// A stored key (has_one) must match the account passed.
pub fn same_key(
    expected: &Address,
    account: &AccountView,
    error: FedstakeError,
) -> Result<(), ProgramError> {
    if syscalls::same_key(account.address().as_array(), expected.as_array()) {
        Ok(())
    } else {
        Err(error.into())
    }
}

/// Moves lamports out of an account this program owns (the pool).
pub fn move_lamports(
    from: &mut AccountView,
    to: &mut AccountView,
    amount: u64,
) -> Result<(), ProgramError> {
    let debited = crate::logic::sub(from.lamports(), amount)?;
    let credited = crate::logic::add(to.lamports(), amount)?;
    from.set_lamports(debited);
    to.set_lamports(credited);
    Ok(())
}

/// Closes a program-owned account: lamports to `recipient`, owner reset to the
/// system program and data length zeroed, so it cannot be revived as ours.
pub fn close(account: &mut AccountView, recipient: &mut AccountView) -> Result<(), ProgramError> {
    let lamports = account.lamports();
    move_lamports(account, recipient, lamports)?;
    account.close()
}
