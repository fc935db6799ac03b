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

/// Canonical address and bump for `seeds` (used only when creating accounts):
/// the highest bump whose address is off the ed25519 curve, exactly as
/// `find_program_address`, but hashing with `sol_sha256` and testing the point
/// with `sol_curve_validate_point` (~300 CU per try instead of 1,500).
pub fn find(seeds: &[&[u8]], program_id: &Address) -> Result<(Address, u8), ProgramError> {
    search(seeds, program_id, crate::syscalls::on_curve)
}

/// The bump search of `find`, with the curve test passed in (host-testable).
#[inline(always)]
fn search(
    seeds: &[&[u8]],
    program_id: &Address,
    on_curve: impl Fn(&[u8; 32]) -> bool,
) -> Result<(Address, u8), ProgramError> {
    let mut bump = u8::MAX;
    loop {
        let address = derive(seeds, bump, program_id);
        if !on_curve(address.as_array()) {
            return Ok((address, bump));
        }
        // Every bump on the curve has probability 2^-256: treat it as a bad seed.
        bump = bump.checked_sub(1).ok_or(FedstakeError::InvalidPda)?;
    }
}

/// `sha256(seeds ‖ [bump] ‖ program_id ‖ "ProgramDerivedAddress")`.
///
/// Skips the on-curve check: `expect` uses it only for the stored canonical
/// bump of accounts created with exactly these seeds, and `find` adds the check.
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
    let (address, bump) = find(seeds, program_id)?;
    if address == *key {
        Ok(bump)
    } else {
        Err(FedstakeError::InvalidPda.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program() -> Address {
        Address::new_from_array([7; 32])
    }

    #[test]
    fn search_returns_the_highest_off_curve_bump() {
        let seeds: &[&[u8]] = &[b"round", &[1, 2, 3]];
        // Pretend addresses whose first byte is even lie on the curve.
        let fake_curve = |bytes: &[u8; 32]| bytes[0].is_multiple_of(2);
        let (address, bump) = search(seeds, &program(), fake_curve).unwrap();
        assert_eq!(address, derive(seeds, bump, &program()));
        assert!(!fake_curve(address.as_array()));
        for higher in (u16::from(bump) + 1)..=255 {
            let skipped = derive(seeds, higher as u8, &program());
            assert!(fake_curve(skipped.as_array()), "bump {higher} was skipped");
        }
    }

    #[test]
    fn search_fails_by_name_when_every_bump_is_on_the_curve() {
        assert_eq!(
            search(&[b"x"], &program(), |_| true),
            Err(FedstakeError::InvalidPda.into())
        );
    }

    #[test]
    fn derive_matches_the_runtime_formula() {
        let expected = crate::syscalls::sha256(&[
            b"vault",
            &[9; 32],
            &[254],
            program().as_ref(),
            b"ProgramDerivedAddress",
        ]);
        assert_eq!(
            derive(&[b"vault", &[9; 32]], 254, &program()).to_bytes(),
            expected
        );
    }
}
