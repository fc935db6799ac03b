//! `reveal_update(round, update_hash, update_cid)` — the participant opens its
//! commitment: the update's SHA-256 and where its bytes are stored, once the
//! submission phase is closed (deadline passed, or every eligible participant
//! committed) and before the round's reveal deadline.
//!
//! The program checks `sha256(update_hash ‖ wallet)` against the submission's
//! `update_commitment` (`UpdateCommitmentMismatch` otherwise) with the
//! `sol_sha256` syscall, then records the hash and the CID. A participant who
//! committed to a copy of a peer's commitment cannot open it: that needs the
//! peer's wallet as signer.
//!
//! Participants upload the update bytes only now: uploading earlier would let
//! peers find the update through the storage network before committing theirs.
//! A commitment still unrevealed at the reveal deadline can only be judged
//! Slashed as `not_revealed`.
//!
//! ### Accounts
//! 0. `[SIGNER]` wallet (the participant that committed)
//! 1. `[]` pool PDA `["pool", pool.organization, pool.pool_id]`
//! 2. `[WRITE]` round PDA `["round", pool, round]` has_one `pool` (current)
//! 3. `[WRITE]` submission PDA `["submission", pool, round, wallet]`
//!    has_one `pool, wallet`
//!
//! ### Data
//! `round u32, update_hash [32], update_cid [64]` (the CID as zero-padded ASCII)

use super::{args, load_pool, load_round, load_submission, non_empty};
use crate::{
    errors::FedstakeError,
    events::{self, UpdateRevealed},
    guards, logic,
    state::{AccountState, PoolStatus},
    syscalls,
};
use pinocchio::ProgramResult;

#[inline(never)]
pub fn process(ix: super::Ix) -> ProgramResult {
    let super::Ix {
        program_id,
        accounts,
        data,
    } = ix;
    let [wallet, pool_account, round_account, submission_account, ..] = accounts else {
        return Err(FedstakeError::NotEnoughAccounts.into());
    };
    // 1. signers and writability
    guards::signer(wallet)?;
    guards::writable(round_account)?;
    guards::writable(submission_account)?;
    // 2. arguments
    let mut r = args(data);
    let number = r.u32()?;
    let update_hash: [u8; 32] = r.array()?;
    let update_cid: [u8; 64] = r.array()?;
    r.finish()?;
    non_empty(&update_hash)?;
    non_empty(&update_cid)?;
    // 3. accounts and their relations
    crate::load!(pool = load_pool, (pool_account, program_id));
    let pool_key = *pool_account.address();
    crate::load!(
        round = load_round,
        (round_account, &pool_key, number, program_id)
    );
    crate::load!(
        submission = load_submission,
        (submission_account, &pool_key, program_id)
    );
    guards::same_key(&submission.wallet, wallet, FedstakeError::AccountMismatch)?;
    if submission.round != number {
        return Err(FedstakeError::AccountMismatch.into());
    }
    // 4. status and windows
    if pool.status != PoolStatus::Training {
        return Err(FedstakeError::InvalidPoolStatus.into());
    }
    if number != pool.round {
        return Err(FedstakeError::WrongRound.into());
    }
    let now = syscalls::now()?;
    if !round.submissions_closed(now) {
        return Err(FedstakeError::RoundStillOpen.into());
    }
    if now >= round.reveal_deadline {
        return Err(FedstakeError::RevealClosed.into());
    }
    if submission.revealed {
        return Err(FedstakeError::AlreadyRevealed.into());
    }
    // 5. the commitment opens with this hash for this wallet only
    let mut opened = [0u8; 32];
    syscalls::sha256_into(&[&update_hash, wallet.address().as_ref()], &mut opened);
    if !syscalls::same_key(&opened, &submission.update_commitment) {
        return Err(FedstakeError::UpdateCommitmentMismatch.into());
    }
    // 6. write
    submission.update_hash = update_hash;
    submission.update_cid = update_cid;
    submission.revealed = true;
    submission.revealed_at = now;
    round.revealed_count = logic::incr(round.revealed_count, 1)?;
    submission.store(submission_account)?;
    round.store(round_account)?;
    events::emit(&UpdateRevealed {
        pool: pool_key,
        wallet: submission.wallet,
        round: number,
        update_hash,
        update_cid,
        revealed_count: round.revealed_count,
    })
}
