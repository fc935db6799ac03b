//! Pure reward, slashing and verdict rules, checked and unit-tested on the host.

use crate::{
    errors::FedstakeError,
    state::submission::{reason, Verdict},
};
use pinocchio::error::ProgramError;

/// The verdict classes (docs/PROTOCOL.md): Accepted ⇒ reason 0; Slashed ⇒
/// an objective reason 1..=63 and score 0; Excluded ⇒ a statistical reason
/// 64..=127 and score 0. An unrevealed submission can only be Slashed as
/// `not_revealed`, and `not_revealed` is refused for a revealed one.
/// Anything else is `InvalidVerdict`.
#[inline(always)]
pub fn check_verdict(
    verdict: Verdict,
    reason_code: u8,
    score: u32,
    revealed: bool,
) -> Result<(), ProgramError> {
    let class_ok = match verdict {
        Verdict::Accepted => reason_code == reason::OK && u64::from(score) <= BPS,
        Verdict::Slashed => {
            (reason::FIRST_OBJECTIVE..=reason::LAST_OBJECTIVE).contains(&reason_code) && score == 0
        }
        Verdict::Excluded => {
            (reason::FIRST_STATISTICAL..=reason::LAST_STATISTICAL).contains(&reason_code)
                && score == 0
        }
        Verdict::Pending => false,
    };
    let not_revealed = verdict == Verdict::Slashed && reason_code == reason::NOT_REVEALED;
    if class_ok && revealed != not_revealed {
        Ok(())
    } else {
        Err(FedstakeError::InvalidVerdict.into())
    }
}

/// Basis points in one whole.
pub const BPS: u64 = 10_000;

/// Reward for a submission scored `score_bps` of a round worth `reward_per_round`.
///
/// Scores are basis points of the round's budget, so the shares of a round sum to
/// at most the budget; floor division leaves any dust in the pool.
#[inline(always)]
pub fn reward_share(reward_per_round: u64, score_bps: u32) -> Result<u64, ProgramError> {
    if u64::from(score_bps) > BPS {
        return Err(FedstakeError::InvalidVerdict.into());
    }
    fraction_of(reward_per_round, u64::from(score_bps))
}

/// `floor(amount × bps / 10_000)` without a wider integer type:
/// `amount = q·B + r` gives `q·bps + floor(r·bps / B)` exactly, and neither term
/// can overflow for `bps ≤ B`.
#[inline(always)]
fn fraction_of(amount: u64, bps: u64) -> Result<u64, ProgramError> {
    if bps > BPS {
        return Err(FedstakeError::ArithmeticOverflow.into());
    }
    // With bps ≤ B: (amount / B)·bps ≤ amount and (amount % B)·bps < B², so
    // neither product can wrap.
    let whole = (amount / BPS).wrapping_mul(bps);
    let rest = (amount % BPS).wrapping_mul(bps) / BPS;
    add(whole, rest)
}

/// Lamports taken from `stake` when a submission is rejected.
#[inline(always)]
pub fn slash_amount(stake: u64, slash_bps: u16) -> Result<u64, ProgramError> {
    if u64::from(slash_bps) > BPS {
        return Err(FedstakeError::InvalidParameter.into());
    }
    fraction_of(stake, u64::from(slash_bps))
}

/// Lamports the pool must hold for rewards before training may start.
#[inline(always)]
pub fn required_funding(reward_per_round: u64, max_rounds: u32) -> Result<u64, ProgramError> {
    mul(reward_per_round, u64::from(max_rounds))
}

/// `a × b`, or `ArithmeticOverflow`.
///
/// Done on 32-bit halves: the upstream BPF backend cannot lower
/// `u64::checked_mul` (LLVM turns it, and even a `MAX / b` bound check, into
/// `umul.with.overflow`, i.e. the `__multi3` libcall).
#[inline(always)]
pub fn mul(a: u64, b: u64) -> Result<u64, ProgramError> {
    const LOW: u64 = 0xFFFF_FFFF;
    let (a_hi, a_lo, b_hi, b_lo) = (a >> 32, a & LOW, b >> 32, b & LOW);
    if a_hi != 0 && b_hi != 0 {
        return Err(FedstakeError::ArithmeticOverflow.into());
    }
    // One of the cross terms is zero, the other is below 2^64.
    let cross = a_hi.wrapping_mul(b_lo) | a_lo.wrapping_mul(b_hi);
    if cross > LOW {
        return Err(FedstakeError::ArithmeticOverflow.into());
    }
    add(a_lo.wrapping_mul(b_lo), cross << 32)
}

/// `a + b`, or `ArithmeticOverflow`.
#[inline(always)]
pub fn add(a: u64, b: u64) -> Result<u64, ProgramError> {
    a.checked_add(b)
        .ok_or_else(|| FedstakeError::ArithmeticOverflow.into())
}

/// `a - b`, or `ArithmeticOverflow`.
#[inline(always)]
pub fn sub(a: u64, b: u64) -> Result<u64, ProgramError> {
    a.checked_sub(b)
        .ok_or_else(|| FedstakeError::ArithmeticOverflow.into())
}

/// `a + b` for counters.
#[inline(always)]
pub fn incr(a: u32, b: u32) -> Result<u32, ProgramError> {
    a.checked_add(b)
        .ok_or_else(|| FedstakeError::ArithmeticOverflow.into())
}

/// `a - b` for counters.
#[inline(always)]
pub fn decr(a: u32, b: u32) -> Result<u32, ProgramError> {
    a.checked_sub(b)
        .ok_or_else(|| FedstakeError::ArithmeticOverflow.into())
}

/// `later - earlier` for times (seconds).
#[inline(always)]
pub fn sub_time(later: i64, earlier: i64) -> Result<i64, ProgramError> {
    later
        .checked_sub(earlier)
        .ok_or_else(|| FedstakeError::ArithmeticOverflow.into())
}

/// `now + duration` for deadlines.
#[inline(always)]
pub fn deadline(now: i64, duration: i64) -> Result<i64, ProgramError> {
    now.checked_add(duration)
        .ok_or_else(|| FedstakeError::ArithmeticOverflow.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_of_a_full_budget_never_exceed_it() {
        let reward = 1_000_000_007u64;
        let scores = [3_333u32, 3_333, 3_334];
        let total: u64 = scores
            .iter()
            .map(|s| reward_share(reward, *s).unwrap())
            .sum();
        assert!(total <= reward);
        assert!(
            reward - total < scores.len() as u64,
            "dust is below one lamport per share"
        );
    }

    #[test]
    fn reward_share_is_pro_rata() {
        assert_eq!(reward_share(10_000, 2_500), Ok(2_500));
        assert_eq!(reward_share(1_000, 10_000), Ok(1_000));
        assert_eq!(reward_share(1_000, 0), Ok(0));
        assert_eq!(reward_share(u64::MAX, 10_000), Ok(u64::MAX));
        assert_eq!(reward_share(u64::MAX, 5_000), Ok(u64::MAX / 2));
    }

    #[test]
    fn fraction_matches_wide_arithmetic() {
        for amount in [0u64, 1, 9_999, 10_000, 123_456_789, u64::MAX - 3, u64::MAX] {
            for bps in [0u64, 1, 2_500, 3_333, 9_999, 10_000] {
                let wide = (amount as u128 * bps as u128 / 10_000) as u64;
                assert_eq!(fraction_of(amount, bps), Ok(wide), "{amount} × {bps}");
            }
        }
    }

    #[test]
    fn reward_share_rejects_scores_above_one_whole() {
        assert_eq!(
            reward_share(1_000, 10_001),
            Err(ProgramError::Custom(FedstakeError::InvalidVerdict as u32))
        );
    }

    #[test]
    fn slashing_takes_the_configured_fraction() {
        assert_eq!(slash_amount(1_000_000, 5_000), Ok(500_000));
        assert_eq!(slash_amount(999, 3_333), Ok(332));
        assert_eq!(slash_amount(u64::MAX, 10_000), Ok(u64::MAX));
        assert!(slash_amount(1, 10_001).is_err());
    }

    #[test]
    fn funding_requirement_overflow_is_named() {
        assert_eq!(required_funding(10, 3), Ok(30));
        assert_eq!(
            required_funding(u64::MAX, 2),
            Err(ProgramError::Custom(
                FedstakeError::ArithmeticOverflow as u32
            ))
        );
    }

    #[test]
    fn verdict_classes_follow_reason_codes() {
        use Verdict::*;
        let ok = |v, r, s, revealed| check_verdict(v, r, s, revealed).is_ok();
        assert!(ok(Accepted, 0, 10_000, true));
        assert!(ok(Accepted, 0, 0, true));
        assert!(!ok(Accepted, 0, 10_001, true));
        assert!(!ok(Accepted, 1, 100, true), "accepted needs reason 0");
        assert!(!ok(Accepted, 64, 100, true));
        for code in [1u8, 2, 5, 7, 63] {
            assert!(ok(Slashed, code, 0, true), "objective {code}");
            assert!(
                !ok(Excluded, code, 0, true),
                "objective {code} is not exclusion"
            );
            assert!(!ok(Slashed, code, 1, true), "slashed scores 0");
        }
        for code in [64u8, 66, 68, 127] {
            assert!(ok(Excluded, code, 0, true), "statistical {code}");
            assert!(
                !ok(Slashed, code, 0, true),
                "statistical {code} never slashes"
            );
            assert!(!ok(Excluded, code, 5, true), "excluded scores 0");
        }
        for code in [0u8, 128, 200, 255] {
            assert!(!ok(Slashed, code, 0, true));
            assert!(!ok(Excluded, code, 0, true));
        }
        assert!(!ok(Pending, 0, 0, true));
        assert!(!ok(Pending, 6, 0, false));
    }

    #[test]
    fn unrevealed_submissions_are_only_slashed_as_not_revealed() {
        use Verdict::*;
        assert!(check_verdict(Slashed, reason::NOT_REVEALED, 0, false).is_ok());
        assert!(check_verdict(Slashed, reason::NOT_REVEALED, 0, true).is_err());
        assert!(check_verdict(Slashed, 1, 0, false).is_err());
        assert!(check_verdict(Accepted, 0, 100, false).is_err());
        assert!(check_verdict(Excluded, 64, 0, false).is_err());
    }

    #[test]
    fn checked_helpers_fail_on_wrap() {
        assert!(add(u64::MAX, 1).is_err());
        assert!(sub(0, 1).is_err());
        assert!(incr(u32::MAX, 1).is_err());
        assert!(decr(0, 1).is_err());
        assert!(deadline(i64::MAX, 1).is_err());
        assert!(sub_time(i64::MIN, 1).is_err());
        assert_eq!(sub_time(10, 4), Ok(6));
        assert!(mul(u64::MAX, 2).is_err());
        assert_eq!(mul(u64::MAX, 1), Ok(u64::MAX));
        assert_eq!(mul(0, u64::MAX), Ok(0));
        assert_eq!(mul(1 << 32, 1 << 31), Ok(1 << 63));
        assert!(mul(1 << 32, 1 << 32).is_err());
        assert!(mul(0x1_0000_0001, 0xFFFF_FFFF).is_ok());
        assert!(mul(0x1_0000_0001, 0x1_0000_0000).is_err());
        for (a, b) in [
            (3u64, 7u64),
            (u64::MAX / 3, 3),
            (u64::MAX / 3, 4),
            (0xFFFF_FFFF, 0xFFFF_FFFF),
            (0x1_2345_6789, 0xF_FFFF),
            (0xDEAD_BEEF_CAFE, 0x1_0000),
        ] {
            assert_eq!(mul(a, b).ok(), a.checked_mul(b), "{a} × {b}");
        }
    }
}
