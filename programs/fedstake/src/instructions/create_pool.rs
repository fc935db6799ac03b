//! `create_pool` — opens a reward pool (status Open). The pool account also
//! holds the pool's lamports (stakes and rewards).
//!
//! The pool id must be fresh: if round 1 of this pool address exists, the id
//! was used by a pool that trained and was closed, and is refused by name
//! (`PoolIdRetired`) instead of failing later at `start_training`.
//!
//! ### Accounts
//! 0. `[WRITE, SIGNER]` organization (payer, authority)
//! 1. `[WRITE]` pool PDA `["pool", organization, pool_id]` (created)
//! 2. `[]` first round PDA `["round", pool, 1u32]` (must not exist: it is read
//!    only to detect a reused id)
//! 3. `[]` system program
//!
//! ### Data (after the 8-byte discriminator)
//! `pool_id u64, aggregator [32], task_cid [64], initial_model_hash [32],
//! initial_model_cid [64], max_rounds u32, round_duration i64,
//! reveal_duration i64, join_deadline i64, expiry_grace i64, claim_window i64,
//! min_stake u64, max_participants u32, reward_per_round u64, slash_bps u16,
//! reward_policy u8` (durations in seconds; `reward_policy` 0 equal,
//! 1 contribution)

use super::{create_account, non_empty};
use crate::{
    errors::FedstakeError,
    events::{self, PoolCreated},
    guards, logic,
    pda::{self, POOL_SEED, ROUND_SEED},
    state::{pool::Cid, pool::Hash, AccountState, Pool, PoolStatus, RewardPolicy},
    syscalls,
};
use pinocchio::{cpi::Seed, error::ProgramError, Address, ProgramResult};

/// Upper bound on rounds, so deadlines and budgets stay far from overflow.
pub const MAX_ROUNDS: u32 = 10_000;
/// Upper bound on every duration parameter and on the join window (one year,
/// in seconds). It keeps every deadline the program computes (at most three
/// durations after the current time) far inside i64 without multiplying on
/// chain (the upstream BPF backend cannot lower overflow-checked
/// multiplication), so no exit can ever fail on overflow.
pub const MAX_DURATION: i64 = 365 * 24 * 3600;

/// The instruction's arguments, packed in IDL order: their bytes are the
/// borsh encoding, so parsing is one length check and one copy.
#[derive(Clone, Copy)]
#[repr(C, packed)]
pub struct CreatePoolArgs {
    pub pool_id: u64,
    pub aggregator: Address,
    pub task_cid: Cid,
    pub initial_model_hash: Hash,
    pub initial_model_cid: Cid,
    pub max_rounds: u32,
    pub round_duration: i64,
    pub reveal_duration: i64,
    pub join_deadline: i64,
    pub expiry_grace: i64,
    pub claim_window: i64,
    pub min_stake: u64,
    pub max_participants: u32,
    pub reward_per_round: u64,
    pub slash_bps: u16,
    pub reward_policy: u8,
}

impl CreatePoolArgs {
    pub fn parse(data: &[u8]) -> Result<Self, ProgramError> {
        // SAFETY: every field is a byte array, an `Address` or an integer, so
        // any bytes of the right length are a valid value.
        unsafe { super::parse_packed(data) }
    }

    /// Parameter ranges; `now` is the cluster time.
    fn validate(&self, now: i64) -> Result<RewardPolicy, ProgramError> {
        if self.aggregator == Address::default() {
            return Err(FedstakeError::InvalidAggregator.into());
        }
        non_empty(&self.task_cid)?;
        non_empty(&self.initial_model_hash)?;
        non_empty(&self.initial_model_cid)?;
        let duration = 1..=MAX_DURATION;
        let join_window = logic::sub_time(self.join_deadline, now)?;
        let in_range = (1..=MAX_ROUNDS).contains(&{ self.max_rounds })
            && duration.contains(&{ self.round_duration })
            && duration.contains(&{ self.reveal_duration })
            && duration.contains(&{ self.expiry_grace })
            && duration.contains(&{ self.claim_window })
            && duration.contains(&join_window)
            && self.min_stake > 0
            && self.max_participants > 0
            && self.reward_per_round > 0
            && u64::from(self.slash_bps) <= logic::BPS;
        if !in_range {
            return Err(FedstakeError::InvalidParameter.into());
        }
        let policy =
            RewardPolicy::from_u8(self.reward_policy).ok_or(FedstakeError::InvalidParameter)?;
        logic::required_funding(self.reward_per_round, self.max_rounds)?;
        Ok(policy)
    }
}

#[inline(never)]
pub fn process(ix: super::Ix) -> ProgramResult {
    let super::Ix {
        program_id,
        accounts,
        data,
    } = ix;
    let [organization, pool_account, first_round, system_program, ..] = accounts else {
        return Err(FedstakeError::NotEnoughAccounts.into());
    };
    // 1. signers and writability
    guards::signer(organization)?;
    guards::writable(organization)?;
    guards::writable(pool_account)?;
    // 2. program ids
    guards::system_program(system_program)?;
    // 3. arguments
    let a = CreatePoolArgs::parse(data)?;
    let now = syscalls::now()?;
    let reward_policy = a.validate(now)?;
    // 4. PDAs at their canonical bumps
    let id = a.pool_id.to_le_bytes();
    let org_key = *organization.address();
    let bump = pda::expect_canonical(
        pool_account.address(),
        &[POOL_SEED, org_key.as_ref(), &id],
        program_id,
    )?;
    let pool_key = *pool_account.address();
    let first_round_bump = pda::expect_canonical(
        first_round.address(),
        &[ROUND_SEED, pool_key.as_ref(), &1u32.to_le_bytes()],
        program_id,
    )?;
    // 5. fresh accounts and a fresh id
    guards::uninitialized(pool_account)?;
    if !guards::is_empty(first_round) {
        return Err(FedstakeError::PoolIdRetired.into());
    }
    // 6. create accounts
    let bump_seed = [bump];
    let pool_seeds = [
        Seed::from(POOL_SEED),
        Seed::from(org_key.as_ref()),
        Seed::from(&id),
        Seed::from(&bump_seed),
    ];
    create_account::<Pool>(organization, pool_account, 0, &pool_seeds, program_id)?;
    // 7. write
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
        reveal_duration: a.reveal_duration,
        join_deadline: a.join_deadline,
        expiry_grace: a.expiry_grace,
        claim_window: a.claim_window,
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
        total_forfeited: 0,
        total_staked: 0,
        total_slashed: 0,
        slash_bps: a.slash_bps,
        reward_policy,
        status: PoolStatus::Open,
        bump,
        created_at: now,
        ended_at: 0,
        first_round_bump,
    };
    pool.store(pool_account)?;
    events::emit(&PoolCreated {
        pool: pool_key,
        organization: org_key,
        aggregator: a.aggregator,
        pool_id: a.pool_id,
        max_rounds: a.max_rounds,
        reward_per_round: a.reward_per_round,
        reward_policy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> CreatePoolArgs {
        CreatePoolArgs {
            pool_id: 1,
            aggregator: Address::new_from_array([3; 32]),
            task_cid: [1; 64],
            initial_model_hash: [2; 32],
            initial_model_cid: [1; 64],
            max_rounds: 3,
            round_duration: 600,
            reveal_duration: 300,
            join_deadline: 1_000 + 3_600,
            expiry_grace: 86_400,
            claim_window: 86_400,
            min_stake: 1,
            max_participants: 5,
            reward_per_round: 10,
            slash_bps: 5_000,
            reward_policy: 1,
        }
    }

    fn error(e: FedstakeError) -> Result<RewardPolicy, ProgramError> {
        Err(e.into())
    }

    #[test]
    fn valid_parameters_pass_and_name_their_policy() {
        assert_eq!(valid().validate(1_000), Ok(RewardPolicy::Contribution));
    }

    #[test]
    fn default_address_is_not_an_aggregator() {
        let a = CreatePoolArgs {
            aggregator: Address::default(),
            ..valid()
        };
        assert_eq!(a.validate(1_000), error(FedstakeError::InvalidAggregator));
    }

    #[test]
    fn every_duration_is_bounded_to_one_year() {
        let bad = [
            CreatePoolArgs {
                reveal_duration: 0,
                ..valid()
            },
            CreatePoolArgs {
                expiry_grace: 0,
                ..valid()
            },
            CreatePoolArgs {
                claim_window: MAX_DURATION + 1,
                ..valid()
            },
            CreatePoolArgs {
                round_duration: -1,
                ..valid()
            },
            CreatePoolArgs {
                join_deadline: 1_000,
                ..valid()
            },
            CreatePoolArgs {
                join_deadline: 1_000 + MAX_DURATION + 1,
                ..valid()
            },
            CreatePoolArgs {
                join_deadline: i64::MAX,
                ..valid()
            },
            CreatePoolArgs {
                reward_policy: 2,
                ..valid()
            },
        ];
        for args in bad {
            assert_eq!(args.validate(1_000), error(FedstakeError::InvalidParameter));
        }
        let edge = CreatePoolArgs {
            join_deadline: 1_000 + MAX_DURATION,
            claim_window: MAX_DURATION,
            ..valid()
        };
        assert!(edge.validate(1_000).is_ok());
    }

    #[test]
    fn args_reject_short_and_trailing_bytes() {
        const LEN: usize = 8 + 32 + 64 + 32 + 64 + 4 + 8 * 5 + 8 + 4 + 8 + 2 + 1;
        let data = [1u8; LEN];
        assert!(CreatePoolArgs::parse(&data).is_ok());
        assert!(CreatePoolArgs::parse(&data[..LEN - 1]).is_err());
        let mut long = [1u8; LEN + 1];
        long[0] = 0;
        assert!(CreatePoolArgs::parse(&long).is_err());
    }
}
