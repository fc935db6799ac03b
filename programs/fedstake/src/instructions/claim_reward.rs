//! `claim_reward(payout_wallet, salt)` — anyone (e.g. the payout relayer)
//! reveals a participant's payout wallet; if `sha256(payout_wallet ‖ salt)`
//! matches the stored commitment, the unpaid reward goes to that wallet. The
//! funds can only ever reach the committed wallet, so no signer is needed.
//!
//! ### Accounts
//! 0. `[WRITE]` pool PDA `["pool", pool.organization, pool.pool_id]` (pays the reward)
//! 1. `[WRITE]` participant PDA `["participant", pool, participant.wallet]`
//!    has_one `pool`
//! 2. `[WRITE]` payout wallet (must be rent-exempt after the transfer)
//!
//! ### Data
//! `payout_wallet [32], salt [32]`

use super::{args, load_participant, load_pool};
use crate::{
    errors::FedstakeError,
    events::{self, RewardClaimed},
    guards, logic,
    state::AccountState,
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
    let [pool_account, participant_account, payout_account, ..] = accounts else {
        return Err(FedstakeError::NotEnoughAccounts.into());
    };
    guards::writable(pool_account)?;
    guards::writable(participant_account)?;
    guards::writable(payout_account)?;
    let mut r = args(data);
    let payout_wallet = r.address()?;
    let salt: [u8; 32] = r.array()?;
    r.finish()?;

    crate::load!(pool = load_pool, (pool_account, program_id));
    let pool_key = *pool_account.address();
    crate::load!(
        participant = load_participant,
        (participant_account, &pool_key, program_id)
    );
    guards::same_key(
        &payout_wallet,
        payout_account,
        FedstakeError::AccountMismatch,
    )?;
    guards::distinct(payout_account, pool_account)?;
    guards::distinct(payout_account, participant_account)?;
    let commitment = syscalls::sha256(&[payout_wallet.as_ref(), &salt]);
    if commitment != participant.payout_commitment {
        return Err(FedstakeError::InvalidCommitment.into());
    }
    let amount = logic::sub(participant.reward_accrued, participant.reward_paid)?;
    if amount == 0 {
        return Err(FedstakeError::NothingToClaim.into());
    }
    participant.reward_paid = logic::add(participant.reward_paid, amount)?;
    pool.total_paid = logic::add(pool.total_paid, amount)?;

    guards::move_lamports(pool_account, payout_account, amount)?;
    participant.store(participant_account)?;
    pool.store(pool_account)?;
    events::emit(&RewardClaimed {
        pool: pool_key,
        wallet: participant.wallet,
        payout_wallet,
        amount,
    })
}
