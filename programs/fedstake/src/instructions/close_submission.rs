//! `close_submission` — the participant reclaims a submission's rent once its
//! verdict is in and its round is over, or once the pool has ended (an expired
//! round's submissions may stay Pending forever) or was closed.
//!
//! ### Accounts
//! 0. `[WRITE, SIGNER]` wallet (the submitter; receives the rent)
//! 1. `[]` pool PDA `["pool", pool.organization, pool.pool_id]` (may already be closed)
//! 2. `[WRITE]` submission PDA `["submission", pool, submission.round, wallet]`
//!    has_one `pool, wallet` (closed)
//!
//! ### Data
//! none

use super::{args, load_pool};
use crate::{
    errors::FedstakeError,
    events::{self, SubmissionClosed},
    guards,
    pda::{self, SUBMISSION_SEED},
    state::{AccountState, Submission, Verdict},
};
use pinocchio::ProgramResult;

#[inline(never)]
pub fn process(ix: super::Ix) -> ProgramResult {
    let super::Ix {
        program_id,
        accounts,
        data,
    } = ix;
    let [wallet, pool_account, submission_account, ..] = accounts else {
        return Err(FedstakeError::NotEnoughAccounts.into());
    };
    guards::signer(wallet)?;
    guards::writable(wallet)?;
    guards::writable(submission_account)?;
    args(data).finish()?;

    let pool_key = *pool_account.address();
    crate::load!(
        submission = Submission::load,
        (submission_account, program_id)
    );
    if !guards::same(&submission.pool, &pool_key) {
        return Err(FedstakeError::AccountMismatch.into());
    }
    let number = submission.round.to_le_bytes();
    pda::expect(
        submission_account.address(),
        &[
            SUBMISSION_SEED,
            pool_key.as_ref(),
            &number,
            submission.wallet.as_ref(),
        ],
        submission.bump,
        program_id,
    )?;
    guards::same_key(&submission.wallet, wallet, FedstakeError::AccountMismatch)?;
    // A closed pool (its PDA emptied and handed back to the system program)
    // has nothing left to settle.
    let pool_closed = guards::is_empty(pool_account);
    if !pool_closed {
        crate::load!(pool = load_pool, (pool_account, program_id));
        let judged_and_over =
            submission.verdict != Verdict::Pending && pool.round > submission.round;
        if !(judged_and_over || pool.status.ended()) {
            return Err(FedstakeError::SubmissionNotSettled.into());
        }
    }

    guards::close(submission_account, wallet)?;
    events::emit(&SubmissionClosed {
        pool: pool_key,
        wallet: submission.wallet,
        round: submission.round,
    })
}
