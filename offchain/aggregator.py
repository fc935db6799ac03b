"""Judges one round of a pool: the aggregator's whole job for that round.

For every submission on chain: fetch the update by CID, check its bytes
against the on-chain `update_hash` (mismatch → rejected, reason "hash"),
decode it (malformed → rejected), run the pool's robust rule on the rest,
record each verdict with `judge_submission`, store the new global model and
record its hash with `finalize_round`. Works on any `ChainGateway`.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client_kit.accounts import Pool, Submission, account_kind, decode_account
from client_kit.canonical import MalformedUpdate, decode_tensors, encode_tensors
from client_kit.gateway.base import ChainGateway
from client_kit.instructions import FedstakeInstructions
from client_kit.storage.base import ContentStore
from client_kit.storage.errors import StorageError
from offchain.aggregation import AggregationRule, RejectReason, UpdateInput

Tensors = dict[str, np.ndarray]


@dataclass(frozen=True)
class JudgedSubmission:
    wallet: Pubkey
    accepted: bool
    reason: str
    score_bps: int


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
) -> tuple[Tensors | None, RejectReason]:
    """The update's tensors, or None and the reason it cannot be used."""
    try:
        data = store.get(submission.update_cid_str)
    except StorageError:
        return None, RejectReason.HASH
    if hashlib.sha256(data).digest() != submission.update_hash:
        return None, RejectReason.HASH
    try:
        tensors = decode_tensors(data)
    except MalformedUpdate:
        return None, RejectReason.MALFORMED
    if set(tensors) != set(base) or any(tensors[k].shape != base[k].shape for k in base):
        return None, RejectReason.SHAPE
    return {k: np.asarray(v) for k, v in tensors.items()}, RejectReason.OK


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
    """Judges and finalizes the pool's open round (its deadline or full
    participation must already allow finalizing)."""
    ix = FedstakeInstructions(chain.program_id)
    info = await chain.get_account(pool_key)
    if info is None:
        raise ValueError(f"no pool at {pool_key}")
    pool = decode_account(Pool, info.data)
    if hashlib.sha256(encode_tensors(base)).digest() != pool.global_model_hash:
        raise ValueError("the base model given does not match the pool's global model hash")
    number = pool.round
    submissions = await round_submissions(chain, pool_key, number)

    inputs: list[UpdateInput] = []
    early: dict[str, RejectReason] = {}
    for submission in submissions:
        tensors, reason = await asyncio.to_thread(fetch_update, store, submission, base)
        key = str(submission.wallet)
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
            accepted, score, reason, code = False, 0, early[key].code, int(early[key])
        else:
            verdict = verdicts[key]
            accepted, score = verdict.accepted, verdict.score_bps if verdict.accepted else 0
            reason, code = verdict.reason, verdict.reason_code
        await chain.send(
            [
                ix.judge_submission(
                    aggregator.pubkey(),
                    pool_key,
                    number,
                    submission.wallet,
                    accepted=accepted,
                    score=score,
                    reason=code,
                )
            ],
            [aggregator],
        )
        judged.append(JudgedSubmission(submission.wallet, accepted, reason, score))

    model_bytes = encode_tensors(global_model)
    global_hash = hashlib.sha256(model_bytes).digest()
    global_cid = await asyncio.to_thread(store.put, model_bytes)
    await chain.send(
        [ix.finalize_round(aggregator.pubkey(), pool_key, number, global_hash, global_cid)],
        [aggregator],
    )
    return RoundOutcome(number, judged, global_model, global_hash, global_cid)
