//! Program-derived addresses: seeds of every account and their checks.
//!
//! Every account stores its bump; later instructions re-derive the address
//! from the seeds and the *stored* bump and compare (one hash).
//!
//! Pools, participants and rounds are created at the canonical bump (found on
//! chain, never taken from the caller): clients derive their addresses, so
//! every one must be where the canonical derivation puts it. Round 1's bump is
//! found by `create_pool` and stored in the pool (`start_training` checks one
//! address); round n + 1's by `finalize_round`. Submissions take their bump
//! from the caller (`expect_passed`): `submit_update` creates one at most once
//! per participant and round, whatever the bump, and only the participant's
//! own submission is affected by a non-canonical one (it says why).

use crate::errors::FedstakeError;
use pinocchio::{error::ProgramError, Address};

pub const POOL_SEED: &[u8] = b"pool";
pub const PARTICIPANT_SEED: &[u8] = b"participant";
pub const SUBMISSION_SEED: &[u8] = b"submission";
pub const ROUND_SEED: &[u8] = b"round";

/// Longest seed list hashed by `search` (the submission's: 10 + 32 + 4 + 32).
const MAX_SEEDS_LEN: usize = 96;
const MARKER: &[u8] = b"ProgramDerivedAddress";

/// The canonical bump of `seeds`, its address written to `address`: the
/// highest bump whose address is off the ed25519 curve, exactly as
/// `find_program_address`, but hashing with `sol_sha256` and testing the point
/// with `sol_curve_validate_point` (~330 CU per try instead of 1,500). The
/// curve test is passed in so the search is host-testable.
///
/// The preimage `seeds ‖ bump ‖ program_id ‖ marker` is laid out once in one
/// buffer and only the bump byte changes between tries: one slice per hash is
/// the cheapest `sol_sha256` call (85 CU + 1 CU per 2 bytes). Nothing 32 bytes
/// long is returned by value (the BPF backend copies such values byte by byte).
#[inline(always)]
fn search(
    seeds: &[&[u8]],
    program_id: &Address,
    on_curve: impl Fn(&[u8; 32]) -> bool,
    address: &mut [u8; 32],
) -> Result<u8, ProgramError> {
    const CAPACITY: usize = MAX_SEEDS_LEN + 1 + 32 + MARKER.len();
    // Left uninitialized: every byte of the preimage is written before it is read.
    let mut storage = core::mem::MaybeUninit::<[u8; CAPACITY]>::uninit();
    let base = storage.as_mut_ptr() as *mut u8;
    let mut end = 0usize;
    for seed in seeds {
        if end + seed.len() > MAX_SEEDS_LEN {
            return Err(FedstakeError::InvalidPda.into());
        }
        // SAFETY: `end + seed.len() ≤ MAX_SEEDS_LEN < CAPACITY`.
        unsafe { crate::syscalls::copy_raw(base.add(end), seed) };
        end += seed.len();
    }
    let bump_at = end;
    let preimage_len = bump_at + 1 + 32 + MARKER.len();
    // SAFETY: `preimage_len ≤ CAPACITY` since `bump_at ≤ MAX_SEEDS_LEN`; after
    // these writes every byte below `preimage_len` is initialized.
    let buffer = unsafe {
        base.add(bump_at).write(u8::MAX);
        crate::syscalls::copy_raw(base.add(bump_at + 1), program_id.as_ref());
        crate::syscalls::copy_raw(base.add(bump_at + 33), MARKER);
        core::slice::from_raw_parts_mut(base, preimage_len)
    };
    let mut bump = u8::MAX;
    loop {
        buffer[bump_at] = bump;
        crate::syscalls::sha256_into(&[buffer], address);
        if !on_curve(address) {
            return Ok(bump);
        }
        // Every bump on the curve has probability 2^-256: treat it as a bad seed.
        bump = bump.checked_sub(1).ok_or(FedstakeError::InvalidPda)?;
    }
}

/// Writes `sha256(seeds ‖ [bump] ‖ program_id ‖ "ProgramDerivedAddress")` to `out`.
///
/// Skips the on-curve check: `expect` uses it only for the stored canonical
/// bump of accounts created with exactly these seeds, and `search` adds it.
fn derive_into(seeds: &[&[u8]], bump: u8, program_id: &Address, out: &mut [u8; 32]) {
    let bump = [bump];
    let mut parts: [&[u8]; 8] = [&[]; 8];
    let count = seeds.len().min(5);
    parts[..count].copy_from_slice(&seeds[..count]);
    parts[count] = &bump;
    parts[count + 1] = program_id.as_ref();
    parts[count + 2] = MARKER;
    crate::syscalls::sha256_into(&parts[..count + 3], out);
}

/// Checks `key` is the PDA of `seeds` at the stored `bump`.
pub fn expect(
    key: &Address,
    seeds: &[&[u8]],
    bump: u8,
    program_id: &Address,
) -> Result<(), ProgramError> {
    let mut address = [0u8; 32];
    derive_into(seeds, bump, program_id, &mut address);
    if crate::syscalls::same_key(&address, key.as_array()) {
        Ok(())
    } else {
        Err(FedstakeError::InvalidPda.into())
    }
}

/// Checks `key` is the PDA of `seeds` at a bump the caller passed, off the
/// curve (one hash and one curve test, no search). Only for accounts whose
/// uniqueness the program enforces with state it already checks, never with
/// the address: the bump need not be canonical, so the same seeds could name
/// up to 255 addresses. The caller states why at most one of them is ever
/// created (`submit_update`). The off-curve test gives a
/// named error for a bump the runtime would refuse to sign with anyway.
pub fn expect_passed(
    key: &Address,
    seeds: &[&[u8]],
    bump: u8,
    program_id: &Address,
) -> Result<(), ProgramError> {
    expect(key, seeds, bump, program_id)?;
    if crate::syscalls::on_curve(key.as_array()) {
        return Err(FedstakeError::InvalidPda.into());
    }
    Ok(())
}

/// Checks `key` is the canonical PDA of `seeds` (used when creating accounts:
/// the bump is found on chain, never taken from the caller) and returns its bump.
pub fn expect_canonical(
    key: &Address,
    seeds: &[&[u8]],
    program_id: &Address,
) -> Result<u8, ProgramError> {
    let mut address = [0u8; 32];
    let bump = search(seeds, program_id, crate::syscalls::on_curve, &mut address)?;
    if crate::syscalls::same_key(&address, key.as_array()) {
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

    fn derive(seeds: &[&[u8]], bump: u8) -> [u8; 32] {
        let mut out = [0u8; 32];
        derive_into(seeds, bump, &program(), &mut out);
        out
    }

    fn search(
        seeds: &[&[u8]],
        curve: impl Fn(&[u8; 32]) -> bool,
    ) -> Result<(u8, [u8; 32]), ProgramError> {
        let mut address = [0u8; 32];
        super::search(seeds, &program(), curve, &mut address).map(|bump| (bump, address))
    }

    #[test]
    fn search_returns_the_highest_off_curve_bump() {
        let seeds: &[&[u8]] = &[b"round", &[1, 2, 3]];
        // Pretend addresses whose first byte is even lie on the curve.
        let fake_curve = |bytes: &[u8; 32]| bytes[0].is_multiple_of(2);
        let (bump, address) = search(seeds, fake_curve).unwrap();
        assert_eq!(address, derive(seeds, bump));
        assert!(!fake_curve(&address));
        for higher in (u16::from(bump) + 1)..=255 {
            let skipped = derive(seeds, higher as u8);
            assert!(fake_curve(&skipped), "bump {higher} was skipped");
        }
    }

    #[test]
    fn search_refuses_seeds_longer_than_its_buffer() {
        let long = [1u8; MAX_SEEDS_LEN + 1];
        assert_eq!(
            search(&[&long], |_| false),
            Err(FedstakeError::InvalidPda.into())
        );
        let longest = [1u8; MAX_SEEDS_LEN];
        assert!(search(&[&longest], |_| false).is_ok());
    }

    #[test]
    fn search_fails_by_name_when_every_bump_is_on_the_curve() {
        assert_eq!(
            search(&[b"x"], |_| true),
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
        assert_eq!(derive(&[b"vault", &[9; 32]], 254), expected);
    }
}
