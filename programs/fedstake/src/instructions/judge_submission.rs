//! `judge_submission` — the aggregator records its verdict on one submission.
//!
//! Accepted (reason 0): the participant is credited
//! `reward_per_round × score / 10_000` at once (scores are basis points of the
//! round's budget, so a round never hands out more than its budget).
//! Excluded (statistical reason 64..=127, score 0): counters only; the
//! participant stays Active. Slashed (objective reason 1..=63, score 0):
//! `slash_bps` of the stake moves to the reward balance and the participant
//! may not submit again.
//!
//! A revealed submission can be judged as soon as it is revealed (reveals open
//! only after the submission phase). An unrevealed one only after the reveal
//! deadline, and only as Slashed / `not_revealed` (6). Nothing can be judged
//! from the round's `expires_at` on: the round can then only be expired.
//!
//! ### Accounts
//! 0. `[SIGNER]` aggregator
//! 1. `[WRITE]` pool PDA `["pool", pool.organization, pool.pool_id]` has_one `aggregator`
//! 2. `[WRITE]` round PDA `["round", pool, round]` has_one `pool` (current)
//! 3. `[WRITE]` participant PDA `["participant", pool, wallet]` has_one `pool`
//! 4. `[WRITE]` submission PDA `["submission", pool, round, wallet]`
//!    has_one `pool`
//!
//! ### Data
//! `round u32, wallet [32], verdict u8 (1 accepted, 2 excluded, 3 slashed),
//! score u32, reason u8`

use super::{args, load_participant, load_pool, load_round, load_submission};
use crate::{
    errors::FedstakeError,
    events::{self, SubmissionJudged},
    guards, logic,
    state::{AccountState, ParticipantStatus, PoolStatus, Verdict},
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
    let [aggregator, pool_account, round_account, participant_account, submission_account, ..] =
        accounts
    else {
        return Err(FedstakeError::NotEnoughAccounts.into());
    };
    // 1. signers and writability
    guards::signer(aggregator)?;
    guards::writable(pool_account)?;
    guards::writable(round_account)?;
    guards::writable(participant_account)?;
    guards::writable(submission_account)?;
    // 2. arguments
    let mut r = args(data);
    let number = r.u32()?;
    let wallet = r.address()?;
    let verdict = Verdict::from_u8(r.u8()?).ok_or(FedstakeError::InvalidVerdict)?;
    let score = r.u32()?;
    let reason = r.u8()?;
    r.finish()?;
    // 3. accounts, authority and relations
    crate::load!(pool = load_pool, (pool_account, program_id));
    guards::same_key(&pool.aggregator, aggregator, FedstakeError::Unauthorized)?;
    let pool_key = *pool_account.address();
    crate::load!(
        round = load_round,
        (round_account, &pool_key, number, program_id)
    );
    crate::load!(
        participant = load_participant,
        (participant_account, &pool_key, program_id)
    );
    crate::load!(
        submission = load_submission,
        (submission_account, &pool_key, program_id)
    );
    if !guards::same(&participant.wallet, &wallet)
        || !guards::same(&submission.wallet, &wallet)
        || submission.round != number
    {
        return Err(FedstakeError::AccountMismatch.into());
    }
    // 4. status and windows
    if pool.status != PoolStatus::Training {
        return Err(FedstakeError::InvalidPoolStatus.into());
    }
    if number != pool.round || round.finalized {
        return Err(FedstakeError::WrongRound.into());
    }
    if submission.verdict != Verdict::Pending {
        return Err(FedstakeError::AlreadyJudged.into());
    }
    let now = syscalls::now()?;
    if now >= round.expires_at {
        return Err(FedstakeError::ExpiryReached.into());
    }
    if !submission.revealed && now < round.reveal_deadline {
        return Err(FedstakeError::RevealStillOpen.into());
    }
    logic::check_verdict(verdict, reason, score, submission.revealed)?;

    // 5. compute
    let (reward, slashed) = match verdict {
        Verdict::Accepted => {
            let total_score = logic::incr(round.total_score, score)?;
            if u64::from(total_score) > logic::BPS {
                return Err(FedstakeError::ScoreBudgetExceeded.into());
            }
            let reward = logic::reward_share(pool.reward_per_round, score)?;
            round.total_score = total_score;
            round.accepted_count = logic::incr(round.accepted_count, 1)?;
            round.reward_accrued = logic::add(round.reward_accrued, reward)?;
            participant.accepted_count = logic::incr(participant.accepted_count, 1)?;
            participant.reward_accrued = logic::add(participant.reward_accrued, reward)?;
            pool.total_accrued = logic::add(pool.total_accrued, reward)?;
            (reward, 0)
        }
        Verdict::Excluded => {
            round.excluded_count = logic::incr(round.excluded_count, 1)?;
            participant.excluded_count = logic::incr(participant.excluded_count, 1)?;
            (0, 0)
        }
        Verdict::Slashed => {
            let slashed = logic::slash_amount(participant.stake, pool.slash_bps)?;
            participant.stake = logic::sub(participant.stake, slashed)?;
            participant.slashed_count = logic::incr(participant.slashed_count, 1)?;
            if participant.status == ParticipantStatus::Active {
                participant.status = ParticipantStatus::Slashed;
                pool.active_participants = logic::decr(pool.active_participants, 1)?;
            }
            pool.total_staked = logic::sub(pool.total_staked, slashed)?;
            pool.total_slashed = logic::add(pool.total_slashed, slashed)?;
            round.slashed_count = logic::incr(round.slashed_count, 1)?;
            (0, slashed)
        }
        Verdict::Pending => return Err(FedstakeError::InvalidVerdict.into()),
    };
    // Rewards owed can never exceed what the pool holds for rewards.
    if pool.rewards_owed()? > pool.reward_balance()? {
        return Err(FedstakeError::InsufficientFunding.into());
    }
    round.judged_count = logic::incr(round.judged_count, 1)?;
    submission.verdict = verdict;
    submission.score = score;
    submission.reason = reason;
    submission.reward = reward;
    submission.slashed = slashed;
    submission.judged_at = now;

    // 6. write and emit
    submission.store(submission_account)?;
    participant.store(participant_account)?;
    round.store(round_account)?;
    pool.store(pool_account)?;
    events::emit(&SubmissionJudged {
        pool: pool_key,
        wallet,
        round: number,
        verdict,
        score,
        reason,
        reward,
        slashed,
    })
}
