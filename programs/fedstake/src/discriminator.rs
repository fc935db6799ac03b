//! Anchor discriminators, computed at compile time from their names:
//! `sha256("global:<ix>")[..8]`, `sha256("account:<Name>")[..8]`,
//! `sha256("event:<Name>")[..8]`. Nothing here is typed in by hand.

use sha2_const_stable::Sha256;

/// First 8 bytes of `sha256(namespace ‖ ":" ‖ name)`.
pub const fn anchor_tag(namespace: &str, name: &str) -> [u8; 8] {
    let hash = Sha256::new()
        .update(namespace.as_bytes())
        .update(b":")
        .update(name.as_bytes())
        .finalize();
    [
        hash[0], hash[1], hash[2], hash[3], hash[4], hash[5], hash[6], hash[7],
    ]
}

/// Instruction discriminators.
pub mod ix {
    use super::anchor_tag;
    pub const CREATE_POOL: [u8; 8] = anchor_tag("global", "create_pool");
    pub const FUND_POOL: [u8; 8] = anchor_tag("global", "fund_pool");
    pub const JOIN_POOL: [u8; 8] = anchor_tag("global", "join_pool");
    pub const START_TRAINING: [u8; 8] = anchor_tag("global", "start_training");
    pub const SUBMIT_UPDATE: [u8; 8] = anchor_tag("global", "submit_update");
    pub const JUDGE_SUBMISSION: [u8; 8] = anchor_tag("global", "judge_submission");
    pub const FINALIZE_ROUND: [u8; 8] = anchor_tag("global", "finalize_round");
    pub const CLAIM_REWARD: [u8; 8] = anchor_tag("global", "claim_reward");
    pub const WITHDRAW_STAKE: [u8; 8] = anchor_tag("global", "withdraw_stake");
    pub const CANCEL_POOL: [u8; 8] = anchor_tag("global", "cancel_pool");
    pub const CLOSE_SUBMISSION: [u8; 8] = anchor_tag("global", "close_submission");
    pub const CLOSE_POOL: [u8; 8] = anchor_tag("global", "close_pool");
    pub const REVEAL_UPDATE: [u8; 8] = anchor_tag("global", "reveal_update");
    pub const EXPIRE_ROUND: [u8; 8] = anchor_tag("global", "expire_round");
    pub const EXPIRE_POOL: [u8; 8] = anchor_tag("global", "expire_pool");
    pub const RECLAIM_FUNDING: [u8; 8] = anchor_tag("global", "reclaim_funding");
    pub const SETTLE_PARTICIPANT: [u8; 8] = anchor_tag("global", "settle_participant");
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256 as HostSha256};

    fn host_tag(preimage: &str) -> [u8; 8] {
        let digest = HostSha256::digest(preimage.as_bytes());
        digest[..8].try_into().unwrap()
    }

    #[test]
    fn const_tags_match_host_sha256() {
        assert_eq!(ix::CREATE_POOL, host_tag("global:create_pool"));
        assert_eq!(ix::CLOSE_POOL, host_tag("global:close_pool"));
        assert_eq!(anchor_tag("account", "Pool"), host_tag("account:Pool"));
        assert_eq!(
            anchor_tag("event", "RoundFinalized"),
            host_tag("event:RoundFinalized")
        );
    }

    #[test]
    fn instruction_tags_are_distinct() {
        let tags = [
            ix::CREATE_POOL,
            ix::FUND_POOL,
            ix::JOIN_POOL,
            ix::START_TRAINING,
            ix::SUBMIT_UPDATE,
            ix::JUDGE_SUBMISSION,
            ix::FINALIZE_ROUND,
            ix::CLAIM_REWARD,
            ix::WITHDRAW_STAKE,
            ix::CANCEL_POOL,
            ix::CLOSE_SUBMISSION,
            ix::CLOSE_POOL,
            ix::REVEAL_UPDATE,
            ix::EXPIRE_ROUND,
            ix::EXPIRE_POOL,
            ix::RECLAIM_FUNDING,
            ix::SETTLE_PARTICIPANT,
        ];
        for (i, a) in tags.iter().enumerate() {
            for b in &tags[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }
}
