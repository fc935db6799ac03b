//! `join_pool(stake, payout_commitment)` — a trainer stakes to join an Open pool.
//!
//! ### Accounts
//! 0. `[WRITE, SIGNER]` wallet (the trainer's signing key; pays stake and rent)
//! 1. `[WRITE]` pool PDA `["pool", pool.organization, pool.pool_id]` (receives the stake)
//! 2. `[WRITE]` participant PDA `["participant", pool, wallet]` (created)
//! 3. `[]` system program
//!
//! ### Data
//! `stake u64, payout_commitment [32]` where the commitment is
//! `sha256(payout_wallet ‖ salt)`.

use super::{args, create_account, load_pool, non_empty};
use crate::{
    errors::FedstakeError,
    events::{self, ParticipantJoined},
    guards, logic,
    pda::{self, PARTICIPANT_SEED},
    state::{AccountState, Participant, ParticipantStatus, PoolStatus},
    syscalls,
};
use pinocchio::{cpi::Seed, ProgramResult};

#[inline(never)]
pub fn process(ix: super::Ix) -> ProgramResult {
    let super::Ix {
        program_id,
        accounts,
        data,
    } = ix;
    let [wallet, pool_account, participant_account, system_program, ..] = accounts else {
        return Err(FedstakeError::NotEnoughAccounts.into());
    };
    guards::signer(wallet)?;
    guards::writable(wallet)?;
    guards::writable(pool_account)?;
    guards::writable(participant_account)?;
    guards::system_program(system_program)?;
    let mut r = args(data);
    let stake = r.u64()?;
    let payout_commitment: [u8; 32] = r.array()?;
    r.finish()?;
    non_empty(&payout_commitment)?;

    crate::load!(pool = load_pool, (pool_account, program_id));
    let pool_key = *pool_account.address();
    let wallet_key = *wallet.address();
    let bump = pda::expect_canonical(
        participant_account.address(),
        &[PARTICIPANT_SEED, pool_key.as_ref(), wallet_key.as_ref()],
        program_id,
    )?;
    if pool.status != PoolStatus::Open {
        return Err(FedstakeError::InvalidPoolStatus.into());
    }
    let now = syscalls::now()?;
    if now >= pool.join_deadline {
        return Err(FedstakeError::JoinClosed.into());
    }
    if pool.participant_count >= pool.max_participants {
        return Err(FedstakeError::PoolFull.into());
    }
    if stake < pool.min_stake {
        return Err(FedstakeError::StakeTooLow.into());
    }
    pool.participant_count = logic::incr(pool.participant_count, 1)?;
    pool.live_participants = logic::incr(pool.live_participants, 1)?;
    pool.active_participants = logic::incr(pool.active_participants, 1)?;
    pool.total_staked = logic::add(pool.total_staked, stake)?;

    let bump_seed = [bump];
    let seeds = [
        Seed::from(PARTICIPANT_SEED),
        Seed::from(pool_key.as_ref()),
        Seed::from(wallet_key.as_ref()),
        Seed::from(&bump_seed),
    ];
    // The stake rides along with the rent in the one CPI that creates the
    // participant account, then moves to the pool (both are ours: no CPI).
    create_account::<Participant>(wallet, participant_account, stake, &seeds, program_id)?;
    guards::move_lamports(participant_account, pool_account, stake)?;
    Participant {
        pool: pool_key,
        wallet: wallet_key,
        stake,
        payout_commitment,
        status: ParticipantStatus::Active,
        accepted_count: 0,
        excluded_count: 0,
        slashed_count: 0,
        reward_accrued: 0,
        reward_paid: 0,
        joined_at: now,
        bump,
        last_round: 0,
    }
    .store(participant_account)?;
    pool.store(pool_account)?;
    events::emit(&ParticipantJoined {
        pool: pool_key,
        wallet: wallet_key,
        stake,
        participant_count: pool.participant_count,
    })
}
