//! Program-derived addresses: seeds of every account and their checks.
//!
//! Accounts are created at the canonical bump (found on chain, never taken from
//! the caller) and that bump is stored; later instructions re-derive the address
//! from the seeds and the *stored* bump and compare.

use crate::errors::FedstakeError;
use pinocchio::{error::ProgramError, Address};

pub const POOL_SEED: &[u8] = b"pool";
pub const VAULT_SEED: &[u8] = b"vault";
pub const PARTICIPANT_SEED: &[u8] = b"participant";
pub const SUBMISSION_SEED: &[u8] = b"submission";
pub const ROUND_SEED: &[u8] = b"round";

/// Canonical address and bump for `seeds` (used only when creating accounts);
/// `None` when no bump gives an off-curve address.
///
/// `try_find_program_address`, not `find_program_address`: the latter panics,
/// and its panic `Location` is a pointer in `.data.rel.ro` that sbpf-linker
/// 0.1.9 leaves unrelocated (`scripts/check_sbf.py` refuses such a binary).
#[cfg(any(target_os = "solana", target_arch = "bpf"))]
pub fn find(seeds: &[&[u8]], program_id: &Address) -> Option<(Address, u8)> {
    Address::try_find_program_address(seeds, program_id)
}

#[cfg(not(any(target_os = "solana", target_arch = "bpf")))]
pub fn find(_seeds: &[&[u8]], _program_id: &Address) -> Option<(Address, u8)> {
    unimplemented!("PDA search needs the runtime; exercised by the SVM tests")
}

/// `sha256(seeds ‖ [bump] ‖ program_id ‖ "ProgramDerivedAddress")`.
///
/// Skips the on-curve check: it is only used for accounts this program already
/// owns, which were created by `invoke_signed` with exactly these seeds.
pub fn derive(seeds: &[&[u8]], bump: u8, program_id: &Address) -> Address {
    const MARKER: &[u8] = b"ProgramDerivedAddress";
    let bump = [bump];
    let mut parts: [&[u8]; 8] = [&[]; 8];
    let count = seeds.len().min(5);
    parts[..count].copy_from_slice(&seeds[..count]);
    parts[count] = &bump;
    parts[count + 1] = program_id.as_ref();
    parts[count + 2] = MARKER;
    Address::new_from_array(crate::syscalls::sha256(&parts[..count + 3]))
}

/// Checks `key` is the PDA of `seeds` at the stored `bump`.
pub fn expect(
    key: &Address,
    seeds: &[&[u8]],
    bump: u8,
    program_id: &Address,
) -> Result<(), ProgramError> {
    if derive(seeds, bump, program_id) == *key {
        Ok(())
    } else {
        Err(FedstakeError::InvalidPda.into())
    }
}

/// Checks `key` is the canonical PDA of `seeds` and returns its bump.
pub fn expect_canonical(
    key: &Address,
    seeds: &[&[u8]],
    program_id: &Address,
) -> Result<u8, ProgramError> {
    match find(seeds, program_id) {
        Some((address, bump)) if address == *key => Ok(bump),
        _ => Err(FedstakeError::InvalidPda.into()),
    }
}
