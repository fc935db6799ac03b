//! fedstake: reward pools for federated learning.
//!
//! Organizations open pools, participants stake and submit SHA-256 hashes of
//! model updates, an aggregator key judges every submission and records the new
//! global model's hash, and rewards go to wallets the participants committed to
//! as `sha256(payout_wallet ‖ salt)`.
//!
//! The program speaks Anchor's wire format (8-byte `sha256` discriminators, borsh
//! layouts, custom errors from 6000 announced by Anchor's `AnchorError occurred.`
//! log line, events via `sol_log_data`) but is written on
//! pinocchio so it builds for the upstream `bpfel-unknown-none` target with
//! registry-only tools; see the README for why and how.
#![cfg_attr(not(test), no_std)]

pub mod codec;
pub mod discriminator;
pub mod errors;
pub mod events;
pub mod guards;
pub mod instructions;
pub mod logic;
pub mod pda;
pub mod state;
pub mod syscalls;

use pinocchio::{AccountView, Address, ProgramResult};

#[cfg(not(feature = "no-entrypoint"))]
mod entrypoint {
    pinocchio::program_entrypoint!(crate::process_instruction);
    pinocchio::no_allocator!();
    pinocchio::nostd_panic_handler!();
}

/// Dispatches on the 8-byte Anchor instruction discriminator.
///
/// Inlined into the entrypoint: the upstream BPF backend allows at most five
/// argument registers, and LTO's argument promotion can widen this call past it.
#[inline(always)]
pub fn process_instruction(
    program_id: &Address,
    accounts: &mut [AccountView],
    data: &[u8],
) -> ProgramResult {
    use discriminator::ix;
    use instructions::*;

    let Some((tag, args)) = data.split_first_chunk::<8>() else {
        let error = errors::FedstakeError::UnknownInstruction.into();
        errors::log(&error);
        return Err(error);
    };
    let tag = *tag;
    let ix = instructions::Ix {
        program_id,
        accounts,
        data: args,
    };
    let result = match tag {
        ix::CREATE_POOL => create_pool::process(ix),
        ix::FUND_POOL => fund_pool::process(ix),
        ix::JOIN_POOL => join_pool::process(ix),
        ix::START_TRAINING => start_training::process(ix),
        ix::SUBMIT_UPDATE => submit_update::process(ix),
        ix::JUDGE_SUBMISSION => judge_submission::process(ix),
        ix::FINALIZE_ROUND => finalize_round::process(ix),
        ix::CLAIM_REWARD => claim_reward::process(ix),
        ix::WITHDRAW_STAKE => withdraw_stake::process(ix),
        ix::CANCEL_POOL => cancel_pool::process(ix),
        ix::CLOSE_SUBMISSION => close_submission::process(ix),
        ix::CLOSE_POOL => close_pool::process(ix),
        ix::REVEAL_UPDATE => reveal_update::process(ix),
        ix::EXPIRE_ROUND => expire_round::process(ix),
        ix::EXPIRE_POOL => expire_pool::process(ix),
        ix::RECLAIM_FUNDING => reclaim_funding::process(ix),
        ix::SETTLE_PARTICIPANT => settle_participant::process(ix),
        _ => Err(errors::FedstakeError::UnknownInstruction.into()),
    };
    if let Err(error) = &result {
        errors::log(error);
    }
    result
}
