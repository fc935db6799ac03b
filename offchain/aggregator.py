"""Judges one round of a pool: the aggregator's whole job for that round.

Once the reveal phase is over: every commitment never revealed is Slashed
(`not_revealed`); every revealed update is fetched by its CID and checked
against the on-chain `update_hash` (bytes received that do not hash to it →
Slashed `hash_mismatch`), decoded (undecodable → Slashed `malformed`, wrong
tensors → Slashed `shape`), and the rest go through the pool's robust rule,
whose rejections are Excluded (statistical doubt, no slash) except for
objective faults (non-finite values → Slashed). Each verdict is recorded with
`judge_submission`, the new global model stored and its hash recorded with
`finalize_round`. Works on any `ChainGateway`.

Operator-side failures never become verdicts: a store that cannot be reached
(or hands back bytes that do not match their CID) raises before anything is
sent, and the round is retried or, if nobody judges in time, expires.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client_kit.accounts import Pool, Round, Submission, account_kind, decode_account
from client_kit.canonical import MalformedUpdate, decode_tensors, encode_tensors
from client_kit.gateway.base import ChainGateway
from client_kit.instructions import FedstakeInstructions
from client_kit.protocol import Reason, Verdict, verdict_for_reason
from client_kit.storage.base import ContentStore
from client_kit.storage.errors import InvalidCid
from offchain.aggregation import AggregationRule, UpdateInput

Tensors = dict[str, np.ndarray]


# The aggregation rules' reason names → on-chain reason codes. Objective,
# reproducible faults slash; everything a rule merely doubts only excludes,
# and a name not listed here is treated as doubt (never slashed).
OBJECTIVE_REASONS = {
    "hash": Reason.HASH_MISMATCH,
    "malformed": Reason.MALFORMED,
    "samples": Reason.MALFORMED,
    "shape": Reason.SHAPE,
    "dtype": Reason.SHAPE,
    "nan": Reason.NON_FINITE,
    "non_finite": Reason.NON_FINITE,
    "norm_bound": Reason.NORM_BOUND,
}
STATISTICAL_REASONS = {
    "trust": Reason.TRUST,
    "unexplained": Reason.UNEXPLAINED,
    "norm": Reason.NORM_OUTLIER,
    "norm_outlier": Reason.NORM_OUTLIER,
    "free_rider": Reason.FREE_RIDER,
    "krum": Reason.ROBUST_RULE,
    "outlier": Reason.ROBUST_RULE,
}


class RoundNotReady(RuntimeError):
    """The round cannot be judged yet (its reveal phase is still open)."""


def on_chain_reason(rule_reason: str) -> Reason:
    """The on-chain reason code for an aggregation rule's reason name."""
    if rule_reason == "ok":
        return Reason.OK
    if rule_reason in OBJECTIVE_REASONS:
        return OBJECTIVE_REASONS[rule_reason]
    return STATISTICAL_REASONS.get(rule_reason, Reason.ROBUST_RULE)


@dataclass(frozen=True)
class JudgedSubmission:
    """One verdict as sent: `reason` is the on-chain reason's name
    (e.g. "hash_mismatch", "robust_rule"), `score_bps` the accepted score."""

    wallet: Pubkey
    accepted: bool
    reason: str
    score_bps: int
    verdict: Verdict


@dataclass(frozen=True)
class RoundOutcome:
    round: int
    judged: list[JudgedSubmission]
    global_model: Tensors
    global_hash: bytes
    global_cid: str


async def round_submissions(
    chain: ChainGateway, pool: Pubkey, round_number: int
) -> list[Submission]:
    """Every submission of `pool` for `round_number`, ordered by wallet."""
    found = []
    for _, info in await chain.program_accounts():
        if account_kind(info.data) != "Submission":
            continue
        submission = decode_account(Submission, info.data)
        if submission.pool == pool and submission.round == round_number:
            found.append(submission)
    return sorted(found, key=lambda s: str(s.wallet))


def fetch_update(
    store: ContentStore, submission: Submission, base: Mapping[str, np.ndarray]
) -> tuple[Tensors | None, Reason]:
    """The update's tensors, or None and the objective fault that makes it
    unusable. Raises `StorageError` (other than a revealed string that is not
    a CID) when the store fails: that is the operator's problem, not a fault."""
    try:
        data = store.get(submission.update_cid_str)
    except InvalidCid:
        return None, Reason.MALFORMED
    if hashlib.sha256(data).digest() != submission.update_hash:
        return None, Reason.HASH_MISMATCH
    try:
        tensors = decode_tensors(data)
    except MalformedUpdate:
        return None, Reason.MALFORMED
    if set(tensors) != set(base) or any(tensors[k].shape != base[k].shape for k in base):
        return None, Reason.SHAPE
    return {k: np.asarray(v) for k, v in tensors.items()}, Reason.OK


async def judge_round(
    chain: ChainGateway,
    store: ContentStore,
    aggregator: Keypair,
    pool_key: Pubkey,
    *,
    rule: AggregationRule,
    base: Mapping[str, np.ndarray],
    reference: Mapping[str, np.ndarray] | None = None,
) -> RoundOutcome:
    """Judges and finalizes the pool's open round once its reveal phase is over
    (raises `RoundNotReady` before, and `StorageError` when the store fails,
    in both cases before sending anything)."""
    ix = FedstakeInstructions(chain.program_id)
    info = await chain.get_account(pool_key)
    if info is None:
        raise ValueError(f"no pool at {pool_key}")
    pool = decode_account(Pool, info.data)
    if hashlib.sha256(encode_tensors(base)).digest() != pool.global_model_hash:
        raise ValueError("the base model given does not match the pool's global model hash")
    number = pool.round
    round_info = await chain.get_account(ix.round(pool_key, number))
    if round_info is None:
        raise ValueError(f"pool {pool_key} has no round {number}")
    round_state = decode_account(Round, round_info.data)
    if not round_state.reveals_closed(await chain.unix_time()):
        raise RoundNotReady(f"round {number}: the reveal phase is still open")
    submissions = await round_submissions(chain, pool_key, number)

    inputs: list[UpdateInput] = []
    early: dict[str, Reason] = {}
    for submission in submissions:
        key = str(submission.wallet)
        if not submission.revealed:
            early[key] = Reason.NOT_REVEALED
            continue
        tensors, reason = await asyncio.to_thread(fetch_update, store, submission, base)
        if tensors is None:
            early[key] = reason
        else:
            inputs.append(UpdateInput(key, tensors, int(submission.num_samples)))

    if inputs:
        result = await asyncio.to_thread(rule.aggregate, dict(base), inputs, reference=reference)
        global_model = result.global_model
        verdicts = {v.key: v for v in result.verdicts}
    else:
        global_model, verdicts = dict(base), {}

    judged: list[JudgedSubmission] = []
    for submission in submissions:
        key = str(submission.wallet)
        if key in early:
            reason, score = early[key], 0
        else:
            rule_verdict = verdicts[key]
            reason = Reason.OK if rule_verdict.accepted else on_chain_reason(rule_verdict.reason)
            score = rule_verdict.score_bps if rule_verdict.accepted else 0
        verdict = verdict_for_reason(reason)
        await chain.send(
            [
                ix.judge_submission(
                    aggregator.pubkey(),
                    pool_key,
                    number,
                    submission.wallet,
                    verdict=verdict,
                    score=score,
                    reason=int(reason),
                )
            ],
            [aggregator],
        )
        judged.append(
            JudgedSubmission(
                submission.wallet,
                verdict is Verdict.ACCEPTED,
                reason.name.lower(),
                score,
                verdict,
            )
        )

    model_bytes = encode_tensors(global_model)
    global_hash = hashlib.sha256(model_bytes).digest()
    global_cid = await asyncio.to_thread(store.put, model_bytes)
    await chain.send(
        [ix.finalize_round(aggregator.pubkey(), pool_key, number, global_hash, global_cid)],
        [aggregator],
    )
    return RoundOutcome(number, judged, global_model, global_hash, global_cid)
