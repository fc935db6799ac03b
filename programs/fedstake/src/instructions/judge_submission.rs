//! `judge_submission` — the aggregator records its verdict on one submission.
//!
//! Accepted: the participant is credited `reward_per_round × score / 10_000`
//! at once (scores are basis points of the round's budget, so a round can never
//! hand out more than its budget). Rejected: `slash_bps` of the stake moves to
//! the reward balance and the participant may not submit again.
//!
//! ### Accounts
//! 0. `[SIGNER]` aggregator
//! 1. `[WRITE]` pool
//! 2. `[WRITE]` round (current)
//! 3. `[WRITE]` participant
//! 4. `[WRITE]` submission
//!
//! ### Data
//! `round u32, wallet [32], verdict u8 (1 accepted, 2 rejected), score u32,
//! reason u8`

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
    guards::signer(aggregator)?;
    guards::writable(pool_account)?;
    guards::writable(round_account)?;
    guards::writable(participant_account)?;
    guards::writable(submission_account)?;
    let mut r = args(data);
    let number = r.u32()?;
    let wallet = r.address()?;
    let verdict = Verdict::from_u8(r.u8()?).ok_or(FedstakeError::InvalidVerdict)?;
    let score = r.u32()?;
    let reason = r.u8()?;
    r.finish()?;

    let mut pool = load_pool(pool_account, program_id)?;
    guards::same_key(&pool.aggregator, aggregator, FedstakeError::Unauthorized)?;
    let pool_key = *pool_account.address();
    let mut round = load_round(round_account, &pool_key, number, program_id)?;
    let mut participant = load_participant(participant_account, &pool_key, program_id)?;
    let mut submission = load_submission(submission_account, &pool_key, program_id)?;
    if participant.wallet != wallet || submission.wallet != wallet || submission.round != number {
        return Err(FedstakeError::AccountMismatch.into());
    }
    if pool.status != PoolStatus::Training {
        return Err(FedstakeError::InvalidPoolStatus.into());
    }
    if number != pool.round || round.finalized {
        return Err(FedstakeError::WrongRound.into());
    }
    if submission.verdict != Verdict::Pending {
        return Err(FedstakeError::AlreadyJudged.into());
    }

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
        Verdict::Rejected => {
            if score != 0 {
                return Err(FedstakeError::InvalidVerdict.into());
            }
            let slashed = logic::slash_amount(participant.stake, pool.slash_bps)?;
            participant.stake = logic::sub(participant.stake, slashed)?;
            participant.rejected_count = logic::incr(participant.rejected_count, 1)?;
            if participant.status == ParticipantStatus::Active {
                participant.status = ParticipantStatus::Slashed;
                pool.active_participants = logic::decr(pool.active_participants, 1)?;
            }
            pool.total_staked = logic::sub(pool.total_staked, slashed)?;
            pool.total_slashed = logic::add(pool.total_slashed, slashed)?;
            round.rejected_count = logic::incr(round.rejected_count, 1)?;
            (0, slashed)
        }
        Verdict::Pending => return Err(FedstakeError::InvalidVerdict.into()),
    };
    // Rewards owed can never exceed what the vault holds for rewards.
    let owed = logic::sub(pool.total_accrued, pool.total_paid)?;
    if owed > pool.reward_balance()? {
        return Err(FedstakeError::InsufficientFunding.into());
    }
    round.judged_count = logic::incr(round.judged_count, 1)?;
    submission.verdict = verdict;
    submission.score = score;
    submission.reason = reason;
    submission.reward = reward;
    submission.slashed = slashed;
    submission.judged_at = syscalls::now()?;

    submission.store(submission_account)?;
    participant.store(participant_account)?;
    round.store(round_account)?;
    pool.store(pool_account)?;
    events::emit(&SubmissionJudged {
        pool: pool_key,
        wallet,
        round: number,
        verdict: verdict as u8,
        score,
        reason,
        reward,
        slashed,
    })
}
