"""Instruction builders: the only place fedstake instructions are assembled.

`build` is generic (account order, signer/writable flags, discriminator and
argument layout all come from the IDL); the named functions below derive the
PDAs so callers pass only what they know.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM_ID

from client_kit import pda
from client_kit.enums import RewardPolicy, Verdict
from client_kit.idl import Idl, IdlCodecError, cid_to_field, load_idl


def build(
    name: str,
    accounts: dict[str, Pubkey],
    args: dict[str, Any],
    *,
    program_id: Pubkey | None = None,
    idl: Idl | None = None,
) -> Instruction:
    """Assembles instruction `name` from named accounts and arguments."""
    idl = idl or load_idl()
    spec = idl.instruction(name)
    metas = []
    for account in spec["accounts"]:
        key = accounts.get(account["name"])
        if key is None and account["name"] == "system_program":
            key = SYSTEM_PROGRAM_ID
        if key is None:
            raise IdlCodecError(f"{name}: account {account['name']!r} missing")
        metas.append(AccountMeta(key, bool(account.get("signer")), bool(account.get("writable"))))
    data = bytes(spec["discriminator"]) + idl.encode_fields(spec["args"], args)
    return Instruction(program_id or idl.address, data, metas)


@dataclass(frozen=True)
class PoolParams:
    """Everything `create_pool` needs besides the organization's key.

    Durations are seconds (each 1..=31,536,000 on chain); `join_deadline` is a
    unix time within a year from now; amounts are lamports; `slash_bps` is
    basis points of a stake. See docs/PROTOCOL.md for the windows; the
    defaults a caller normally wants are `actions.organization.PoolTerms`'.
    """

    pool_id: int
    aggregator: Pubkey
    task_cid: str
    initial_model_hash: bytes
    initial_model_cid: str
    max_rounds: int
    round_duration: int
    join_deadline: int
    min_stake: int
    max_participants: int
    reward_per_round: int
    slash_bps: int
    reveal_duration: int
    expiry_grace: int
    claim_window: int
    reward_policy: RewardPolicy


class FedstakeInstructions:
    """Typed builders bound to one program id."""

    def __init__(self, program_id: Pubkey | None = None, idl: Idl | None = None) -> None:
        self.idl = idl or load_idl()
        self.program_id = program_id or self.idl.address

    def _build(self, name: str, accounts: dict[str, Pubkey], args: dict[str, Any]) -> Instruction:
        return build(name, accounts, args, program_id=self.program_id, idl=self.idl)

    def pool(self, organization: Pubkey, pool_id: int) -> Pubkey:
        return pda.pool_address(self.program_id, organization, pool_id)[0]

    def participant(self, pool: Pubkey, wallet: Pubkey) -> Pubkey:
        return pda.participant_address(self.program_id, pool, wallet)[0]

    def round(self, pool: Pubkey, number: int) -> Pubkey:
        return pda.round_address(self.program_id, pool, number)[0]

    def submission(self, pool: Pubkey, number: int, wallet: Pubkey) -> Pubkey:
        return pda.submission_address(self.program_id, pool, number, wallet)[0]

    def create_pool(self, organization: Pubkey, params: PoolParams) -> Instruction:
        pool = self.pool(organization, params.pool_id)
        return self._build(
            "create_pool",
            {
                "organization": organization,
                "pool": pool,
                "first_round": self.round(pool, 1),
            },
            {
                "pool_id": params.pool_id,
                "aggregator": params.aggregator,
                "task_cid": cid_to_field(params.task_cid),
                "initial_model_hash": params.initial_model_hash,
                "initial_model_cid": cid_to_field(params.initial_model_cid),
                "max_rounds": params.max_rounds,
                "round_duration": params.round_duration,
                "reveal_duration": params.reveal_duration,
                "join_deadline": params.join_deadline,
                "expiry_grace": params.expiry_grace,
                "claim_window": params.claim_window,
                "min_stake": params.min_stake,
                "max_participants": params.max_participants,
                "reward_per_round": params.reward_per_round,
                "slash_bps": params.slash_bps,
                "reward_policy": params.reward_policy.tag,
            },
        )

    def fund_pool(self, funder: Pubkey, pool: Pubkey, amount: int) -> Instruction:
        return self._build(
            "fund_pool",
            {"funder": funder, "pool": pool},
            {"amount": amount},
        )

    def join_pool(self, wallet: Pubkey, pool: Pubkey, stake: int, commitment: bytes) -> Instruction:
        return self._build(
            "join_pool",
            {
                "wallet": wallet,
                "pool": pool,
                "participant": self.participant(pool, wallet),
            },
            {"stake": stake, "payout_commitment": commitment},
        )

    def start_training(self, organization: Pubkey, pool: Pubkey) -> Instruction:
        return self._build(
            "start_training",
            {"organization": organization, "pool": pool, "round": self.round(pool, 1)},
            {},
        )

    def submit_update(
        self,
        wallet: Pubkey,
        pool: Pubkey,
        round_number: int,
        *,
        update_commitment: bytes,
        num_samples: int,
        base_model_hash: bytes,
    ) -> Instruction:
        """Commits to an update for round `round_number`: `update_commitment` is
        `canonical.update_commitment(update_hash, wallet)`; the hash and the CID
        follow with `reveal_update` once the submission phase is closed.

        The submission is created at the canonical bump of its PDA, found here
        and passed so the program checks one address instead of searching (see
        the program's `submit_update` for why a passed bump is sound; tests of
        its checks patch the bump byte and the account)."""
        submission, bump = pda.submission_address(self.program_id, pool, round_number, wallet)
        return self._build(
            "submit_update",
            {
                "wallet": wallet,
                "pool": pool,
                "participant": self.participant(pool, wallet),
                "round": self.round(pool, round_number),
                "submission": submission,
            },
            {
                "round": round_number,
                "update_commitment": update_commitment,
                "num_samples": num_samples,
                "base_model_hash": base_model_hash,
                "bump": bump,
            },
        )

    def reveal_update(
        self,
        wallet: Pubkey,
        pool: Pubkey,
        round_number: int,
        update_hash: bytes,
        update_cid: str,
    ) -> Instruction:
        """Opens `wallet`'s commitment: the update's hash and where it is stored."""
        return self._build(
            "reveal_update",
            {
                "wallet": wallet,
                "pool": pool,
                "round": self.round(pool, round_number),
                "submission": self.submission(pool, round_number, wallet),
            },
            {
                "round": round_number,
                "update_hash": update_hash,
                "update_cid": cid_to_field(update_cid),
            },
        )

    def judge_submission(
        self,
        aggregator: Pubkey,
        pool: Pubkey,
        round_number: int,
        wallet: Pubkey,
        *,
        verdict: Verdict | int,
        score: int,
        reason: int,
        submission_bump: int | None = None,
    ) -> Instruction:
        """One verdict: Accepted (reason 0, score in bps of the round budget),
        Excluded (reason 64..=127, score 0) or Slashed (reason 1..=63, score 0);
        see `client_kit.enums`. A raw int `verdict` is sent as given (tests of
        the program's refusals). `submission_bump` is the submission's stored
        bump when it is known (default: its canonical address)."""
        submission = (
            self.submission(pool, round_number, wallet)
            if submission_bump is None
            else pda.submission_address_at(
                self.program_id, pool, round_number, wallet, submission_bump
            )
        )
        return self._build(
            "judge_submission",
            {
                "aggregator": aggregator,
                "pool": pool,
                "round": self.round(pool, round_number),
                "participant": self.participant(pool, wallet),
                "submission": submission,
            },
            {
                "round": round_number,
                "wallet": wallet,
                "verdict": verdict.tag if isinstance(verdict, Verdict) else verdict,
                "score": score,
                "reason": reason,
            },
        )

    def finalize_round(
        self,
        aggregator: Pubkey,
        pool: Pubkey,
        round_number: int,
        global_model_hash: bytes,
        global_model_cid: str,
        record_cid: str,
    ) -> Instruction:
        """`finalize_round`: the round's global model (hash and CID) and the CID of
        the operator's round record (what `verify-round` reruns).

        The next round's account is `["round", pool, round_number + 1]` at its
        canonical address (passed even after the last round, where it stays
        empty); the program searches its bump itself, so an aggregator cannot
        open a round where clients that derive it do not look."""
        return self._build(
            "finalize_round",
            {
                "aggregator": aggregator,
                "pool": pool,
                "round": self.round(pool, round_number),
                "next_round": self.round(pool, round_number + 1),
            },
            {
                "round": round_number,
                "global_model_hash": global_model_hash,
                "global_model_cid": cid_to_field(global_model_cid),
                "record_cid": cid_to_field(record_cid),
            },
        )

    def claim_reward(
        self, pool: Pubkey, wallet: Pubkey, payout_wallet: Pubkey, salt: bytes
    ) -> Instruction:
        return self._build(
            "claim_reward",
            {
                "pool": pool,
                "participant": self.participant(pool, wallet),
                "payout_wallet": payout_wallet,
            },
            {"payout_wallet": payout_wallet, "salt": salt},
        )

    def withdraw_stake(self, wallet: Pubkey, pool: Pubkey) -> Instruction:
        return self._build(
            "withdraw_stake",
            {
                "wallet": wallet,
                "pool": pool,
                "participant": self.participant(pool, wallet),
            },
            {},
        )

    def cancel_pool(self, organization: Pubkey, pool: Pubkey) -> Instruction:
        return self._build(
            "cancel_pool",
            {"organization": organization, "pool": pool},
            {},
        )

    def close_submission(self, wallet: Pubkey, pool: Pubkey, round_number: int) -> Instruction:
        return self._build(
            "close_submission",
            {
                "wallet": wallet,
                "pool": pool,
                "submission": self.submission(pool, round_number, wallet),
            },
            {},
        )

    def close_pool(
        self, organization: Pubkey, pool: Pubkey, closer: Pubkey | None = None
    ) -> Instruction:
        """Closes an ended pool with no participant left; `closer` (default the
        organization) signs, and may be anyone after the claim window."""
        return self._build(
            "close_pool",
            {
                "closer": closer or organization,
                "organization": organization,
                "pool": pool,
            },
            {},
        )

    def expire_round(self, pool: Pubkey, round_number: int) -> Instruction:
        """Ends a Training pool whose current round passed its `expires_at`."""
        return self._build(
            "expire_round", {"pool": pool, "round": self.round(pool, round_number)}, {}
        )

    def expire_pool(self, pool: Pubkey) -> Instruction:
        """Ends an Open pool at `join_deadline + expiry_grace`."""
        return self._build("expire_pool", {"pool": pool}, {})

    def reclaim_funding(self, pool: Pubkey, organization: Pubkey) -> Instruction:
        """Sends an ended pool's unowed reward balance to its organization."""
        return self._build(
            "reclaim_funding",
            {"pool": pool, "organization": organization},
            {},
        )

    def settle_participant(self, pool: Pubkey, wallet: Pubkey) -> Instruction:
        """After the claim window: forfeits `wallet`'s unpaid reward, returns its
        stake and rent to `wallet` and closes its participant account."""
        return self._build(
            "settle_participant",
            {
                "pool": pool,
                "participant": self.participant(pool, wallet),
                "wallet": wallet,
            },
            {},
        )
