//! `create_pool` — opens a reward pool (status Open) and its vault.
//!
//! ### Accounts
//! 0. `[WRITE, SIGNER]` organization (payer, authority)
//! 1. `[WRITE]` pool PDA `["pool", organization, pool_id]` (created)
//! 2. `[WRITE]` vault PDA `["vault", pool]` (created, 0 bytes, program-owned)
//! 3. `[]` system program
//!
//! ### Data (after the 8-byte discriminator)
//! `pool_id u64, aggregator [32], task_cid [64], initial_model_hash [32],
//! initial_model_cid [64], max_rounds u32, round_duration i64, join_deadline i64,
//! min_stake u64, max_participants u32, reward_per_round u64, slash_bps u16`

use super::{args, create_account, non_empty};
use crate::{
    errors::FedstakeError,
    events::{self, PoolCreated},
    guards, logic,
    pda::{self, POOL_SEED, VAULT_SEED},
    state::{pool::Cid, pool::Hash, AccountState, Pool, PoolStatus},
    syscalls,
};
use pinocchio::{cpi::Seed, error::ProgramError, Address, ProgramResult};

/// Upper bound on rounds, so deadlines and budgets stay far from overflow.
pub const MAX_ROUNDS: u32 = 10_000;
/// Upper bound on a round's length (one year, in seconds). With MAX_ROUNDS this
/// keeps every deadline far inside i64 without multiplying on chain (the
/// upstream BPF backend cannot lower overflow-checked multiplication).
pub const MAX_ROUND_DURATION: i64 = 365 * 24 * 3600;

pub struct CreatePoolArgs {
    pub pool_id: u64,
    pub aggregator: Address,
    pub task_cid: Cid,
    pub initial_model_hash: Hash,
    pub initial_model_cid: Cid,
    pub max_rounds: u32,
    pub round_duration: i64,
    pub join_deadline: i64,
    pub min_stake: u64,
    pub max_participants: u32,
    pub reward_per_round: u64,
    pub slash_bps: u16,
}

impl CreatePoolArgs {
    pub fn parse(data: &[u8]) -> Result<Self, ProgramError> {
        let mut r = args(data);
        let parsed = Self {
            pool_id: r.u64()?,
            aggregator: r.address()?,
            task_cid: r.array()?,
            initial_model_hash: r.array()?,
            initial_model_cid: r.array()?,
            max_rounds: r.u32()?,
            round_duration: r.i64()?,
            join_deadline: r.i64()?,
            min_stake: r.u64()?,
            max_participants: r.u32()?,
            reward_per_round: r.u64()?,
            slash_bps: r.u16()?,
        };
        r.finish()?;
        Ok(parsed)
    }

    /// Parameter ranges; `now` is the cluster time.
    fn validate(&self, now: i64) -> Result<(), ProgramError> {
        non_empty(&self.task_cid)?;
        non_empty(&self.initial_model_hash)?;
        non_empty(&self.initial_model_cid)?;
        let in_range = (1..=MAX_ROUNDS).contains(&self.max_rounds)
            && (1..=MAX_ROUND_DURATION).contains(&self.round_duration)
            && self.join_deadline > now
            && self.min_stake > 0
            && self.max_participants > 0
            && self.reward_per_round > 0
            && u64::from(self.slash_bps) <= logic::BPS;
        if !in_range {
            return Err(FedstakeError::InvalidParameter.into());
        }
        logic::required_funding(self.reward_per_round, self.max_rounds)?;
        Ok(())
    }
}

#[inline(never)]
pub fn process(ix: super::Ix) -> ProgramResult {
    let super::Ix {
        program_id,
        accounts,
        data,
    } = ix;
    let [organization, pool_account, vault, system_program, ..] = accounts else {
        return Err(FedstakeError::NotEnoughAccounts.into());
    };
    // 1. signers and writability
    guards::signer(organization)?;
    guards::writable(organization)?;
    guards::writable(pool_account)?;
    guards::writable(vault)?;
    // 2. program ids
    guards::system_program(system_program)?;
    // 3. arguments
    let a = CreatePoolArgs::parse(data)?;
    let now = syscalls::now()?;
    a.validate(now)?;
    // 4. PDAs at their canonical bumps
    let id = a.pool_id.to_le_bytes();
    let org_key = *organization.address();
    let bump = pda::expect_canonical(
        pool_account.address(),
        &[POOL_SEED, org_key.as_ref(), &id],
        program_id,
    )?;
    let pool_key = *pool_account.address();
    let vault_bump = pda::expect_canonical(
        vault.address(),
        &[VAULT_SEED, pool_key.as_ref()],
        program_id,
    )?;
    guards::uninitialized(vault)?;
    // 5. create accounts
    let bump_seed = [bump];
    let pool_seeds = [
        Seed::from(POOL_SEED),
        Seed::from(org_key.as_ref()),
        Seed::from(&id),
        Seed::from(&bump_seed),
    ];
    create_account::<Pool>(organization, pool_account, &pool_seeds, program_id)?;
    let vault_bump_seed = [vault_bump];
    let vault_seeds = [
        Seed::from(VAULT_SEED),
        Seed::from(pool_key.as_ref()),
        Seed::from(&vault_bump_seed),
    ];
    pinocchio_system::create_program_account_with_minimum_balance_signed(
        vault,
        0,
        program_id,
        organization,
        None,
        &[pinocchio::cpi::Signer::from(&vault_seeds[..])],
    )?;
    // 6. write
    let pool = Pool {
        organization: org_key,
        aggregator: a.aggregator,
        pool_id: a.pool_id,
        task_cid: a.task_cid,
        global_model_hash: a.initial_model_hash,
        global_model_cid: a.initial_model_cid,
        round: 0,
        max_rounds: a.max_rounds,
        round_deadline: 0,
        round_duration: a.round_duration,
        join_deadline: a.join_deadline,
        min_stake: a.min_stake,
        max_participants: a.max_participants,
        participant_count: 0,
        live_participants: 0,
        active_participants: 0,
        reward_per_round: a.reward_per_round,
        total_funded: 0,
        total_refunded: 0,
        total_accrued: 0,
        total_paid: 0,
        total_staked: 0,
        total_slashed: 0,
        slash_bps: a.slash_bps,
        status: PoolStatus::Open,
        bump,
        vault_bump,
        created_at: now,
    };
    pool.store(pool_account)?;
    events::emit(&PoolCreated {
        pool: pool_key,
        organization: org_key,
        aggregator: a.aggregator,
        pool_id: a.pool_id,
        max_rounds: a.max_rounds,
        reward_per_round: a.reward_per_round,
    })
}
