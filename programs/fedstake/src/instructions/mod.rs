//! One module per instruction. Each reads top to bottom: accounts (signers,
//! writability, program ids, owners, PDAs), arguments, relationship checks,
//! computation, writes, event.
//!
//! Each module's `### Accounts` and `### Data` docs are the source of the IDL
//! (`idl/build_idl.py`). In `### Accounts`, `PDA [seed, ...]` lists the seeds
//! the program derives the account's address from: `"text"` is a constant,
//! `1u32` a little-endian constant, a bare name an argument of the
//! instruction or else another account of it (arguments first, as in Anchor),
//! and `account.field` a field of that account's data. A `has_one` list (names
//! in backticks) says the account stores each of those accounts' keys in the
//! field of the same name, and the program checks it (Anchor's `has_one`; the
//! IDL's `relations`). Seeds with arithmetic (`round + 1`) are documented but
//! left out of the IDL, which cannot express them (nor can Anchor's).

pub mod cancel_pool;
pub mod claim_reward;
pub mod close_pool;
pub mod close_submission;
pub mod create_pool;
pub mod expire_pool;
pub mod expire_round;
pub mod finalize_round;
pub mod fund_pool;
pub mod join_pool;
pub mod judge_submission;
pub mod reclaim_funding;
pub mod reveal_update;
pub mod settle_participant;
pub mod start_training;
pub mod submit_update;
pub mod withdraw_stake;

use crate::{
    codec::Reader,
    errors::FedstakeError,
    guards,
    pda::{self, PARTICIPANT_SEED, POOL_SEED, ROUND_SEED, SUBMISSION_SEED},
    state::{AccountState, Participant, Pool, Round, Submission},
};
use core::mem::MaybeUninit;
use pinocchio::{
    cpi::{Seed, Signer},
    error::ProgramError,
    AccountView, Address, ProgramResult,
};
use pinocchio_system::instructions::{Assign, CreateAccount, Transfer};

/// One instruction's inputs. Handlers take this single value (passed by
/// pointer) and stay out of line: the upstream BPF backend has five argument
/// registers, and inlining every handler into the entrypoint would pile all
/// their locals into one 4 KiB stack frame.
pub struct Ix<'a> {
    pub program_id: &'a Address,
    pub accounts: &'a mut [AccountView],
    pub data: &'a [u8],
}

/// Argument reader for instruction data (short or trailing bytes are
/// `InvalidInstructionData`).
pub(crate) fn args(data: &[u8]) -> Reader<'_> {
    Reader::new(data, FedstakeError::InvalidInstructionData)
}

/// Copies `data` into a packed argument struct `T` (one copy; its bytes are
/// its borsh encoding); `InvalidInstructionData` unless the length is exact.
///
/// # Safety
/// `T` must be `#[repr(C, packed)]` with fields for which every bit pattern
/// is valid (byte arrays, `Address`, integers).
#[inline(always)]
pub(crate) unsafe fn parse_packed<T: Copy>(data: &[u8]) -> Result<T, ProgramError> {
    if data.len() != core::mem::size_of::<T>() {
        return Err(FedstakeError::InvalidInstructionData.into());
    }
    let mut value = MaybeUninit::<T>::uninit();
    // SAFETY: `value` has room for `data.len()` bytes; the caller guarantees
    // any bytes form a valid `T`.
    unsafe {
        let out = core::slice::from_raw_parts_mut(value.as_mut_ptr() as *mut u8, data.len());
        crate::syscalls::copy(out, data);
        Ok(value.assume_init())
    }
}

/// Loads the pool and checks its address is `["pool", organization, pool_id]`
/// at the stored bump.
/// Inlined: with its slot it takes more arguments than the BPF backend's five
/// registers.
#[inline(always)]
pub(crate) fn load_pool<'a>(
    slot: &'a mut MaybeUninit<Pool>,
    account: &AccountView,
    program_id: &Address,
) -> Result<&'a mut Pool, ProgramError> {
    let pool = Pool::load(slot, account, program_id)?;
    let id = pool.pool_id.to_le_bytes();
    pda::expect(
        account.address(),
        &[POOL_SEED, pool.organization.as_ref(), &id],
        pool.bump,
        program_id,
    )?;
    Ok(pool)
}

/// Inlined: with its slot it takes more arguments than the BPF backend's five
/// registers.
#[inline(always)]
pub(crate) fn load_participant<'a>(
    slot: &'a mut MaybeUninit<Participant>,
    account: &AccountView,
    pool_key: &Address,
    program_id: &Address,
) -> Result<&'a mut Participant, ProgramError> {
    let participant = Participant::load(slot, account, program_id)?;
    if !guards::same(&participant.pool, pool_key) {
        return Err(FedstakeError::AccountMismatch.into());
    }
    pda::expect(
        account.address(),
        &[
            PARTICIPANT_SEED,
            pool_key.as_ref(),
            participant.wallet.as_ref(),
        ],
        participant.bump,
        program_id,
    )?;
    Ok(participant)
}

/// Loads round `number` of `pool_key` and checks its PDA at the stored bump.
/// Inlined: with its slot it takes more arguments than the BPF backend's five
/// registers.
#[inline(always)]
pub(crate) fn load_round<'a>(
    slot: &'a mut MaybeUninit<Round>,
    account: &AccountView,
    pool_key: &Address,
    number: u32,
    program_id: &Address,
) -> Result<&'a mut Round, ProgramError> {
    let round = Round::load(slot, account, program_id)?;
    if !guards::same(&round.pool, pool_key) || round.round != number {
        return Err(FedstakeError::AccountMismatch.into());
    }
    let number = number.to_le_bytes();
    pda::expect(
        account.address(),
        &[ROUND_SEED, pool_key.as_ref(), &number],
        round.bump,
        program_id,
    )?;
    Ok(round)
}

/// Loads a submission of `pool_key` and checks its PDA at the stored bump.
/// Inlined: with its slot it takes more arguments than the BPF backend's five
/// registers.
#[inline(always)]
pub(crate) fn load_submission<'a>(
    slot: &'a mut MaybeUninit<Submission>,
    account: &AccountView,
    pool_key: &Address,
    program_id: &Address,
) -> Result<&'a mut Submission, ProgramError> {
    let submission = Submission::load(slot, account, program_id)?;
    if !guards::same(&submission.pool, pool_key) {
        return Err(FedstakeError::AccountMismatch.into());
    }
    let number = submission.round.to_le_bytes();
    pda::expect(
        account.address(),
        &[
            SUBMISSION_SEED,
            pool_key.as_ref(),
            &number,
            submission.wallet.as_ref(),
        ],
        submission.bump,
        program_id,
    )?;
    Ok(submission)
}

/// Creates a program-owned PDA of `T::LEN` bytes paid by `payer`, holding its
/// rent-exempt minimum plus `extra` lamports (one CPI carries a stake along
/// with the rent); `seeds` must end with the canonical bump. Works even if
/// someone pre-funded the address (transfer + assign + allocate instead of
/// `CreateAccount`); the account then holds at least rent + `extra`.
pub(crate) fn create_account<T: AccountState>(
    payer: &AccountView,
    account: &mut AccountView,
    extra: u64,
    seeds: &[Seed],
    program_id: &Address,
) -> ProgramResult {
    guards::uninitialized(account)?;
    let lamports = crate::logic::add(crate::syscalls::rent_exempt_minimum(T::LEN)?, extra)?;
    let signer = [Signer::from(seeds)];
    if account.lamports() == 0 {
        return CreateAccount {
            from: payer,
            to: account,
            lamports,
            space: T::LEN as u64,
            owner: program_id,
        }
        .invoke_signed(&signer);
    }
    let missing = lamports.saturating_sub(account.lamports());
    if missing > 0 {
        Transfer {
            from: payer,
            to: account,
            lamports: missing,
        }
        .invoke()?;
    }
    Assign {
        account,
        owner: program_id,
    }
    .invoke_signed(&signer)?;
    pinocchio::Resize::resize(account, T::LEN)
}

/// Rejects all-zero hashes and CIDs (an empty value can never be verified).
pub(crate) fn non_empty(bytes: &[u8]) -> ProgramResult {
    if bytes.iter().all(|b| *b == 0) {
        Err(FedstakeError::EmptyHash.into())
    } else {
        Ok(())
    }
}
