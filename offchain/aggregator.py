"""Judges one round of a pool: the aggregator's whole job for that round.

For every submission on chain: fetch the update by CID and check its bytes
against the on-chain `update_hash` (mismatch → rejected, reason `hash`),
decode it (any malformed bytes → rejected, reason `malformed`), check names
and shapes against the base (`shape`), run the pool's robust rule on the
rest, record each verdict, store the new global model and record its hash.
Every chain and store exchange goes through `client_kit.actions`; this module
only decides. Works on any `ChainGateway`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client_kit.accounts import Submission
from client_kit.actions import operator
from client_kit.actions.reads import load_pool
from client_kit.canonical import MalformedUpdate, encode_tensors, tensors_hash
from client_kit.enums import Reason, Verdict
from client_kit.gateway.base import ChainGateway
from client_kit.storage.base import ContentStore
from offchain.aggregation import AggregationRule, UpdateInput
from offchain.errors import RoundMismatch

Tensors = dict[str, np.ndarray]


@dataclass(frozen=True)
class JudgedSubmission:
    """One recorded verdict: the participant, the verdict, why, and its score (bps)."""

    wallet: Pubkey
    verdict: Verdict
    reason: Reason
    score_bps: int

    @property
    def accepted(self) -> bool:
        return self.verdict is Verdict.ACCEPTED


@dataclass(frozen=True, eq=False)  # holds arrays
class RoundOutcome:
    round: int
    judged: list[JudgedSubmission]
    global_model: Tensors
    global_hash: bytes
    global_cid: str


async def checked_update(
    store: ContentStore, submission: Submission, base: Mapping[str, np.ndarray]
) -> tuple[Tensors | None, Reason]:
    """The submission's update as float arrays, or None and the objective
    reason it cannot be used. Nothing a participant sends escapes as an
    exception: bytes that do not decode are `MALFORMED`."""
    try:
        tensors = await operator.fetch_update(store, submission)
    except (operator.UpdateUnavailable, operator.UpdateHashMismatch):
        return None, Reason.HASH
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
    """Judges and finalizes the pool's open round (its deadline or full
    participation must already allow finalizing).

    Raises `PoolNotFound`, `RoundMismatch` when `base` is not the pool's
    global model, and the chain's errors for transactions it sends.
    """
    pool = await load_pool(chain, pool_key)
    if tensors_hash(base) != pool.global_model_hash:
        raise RoundMismatch("the base model given does not match the pool's global model hash")
    number = pool.round
    submissions = await operator.round_submissions(chain, pool_key, number)

    inputs: list[UpdateInput] = []
    early: dict[str, Reason] = {}
    for submission in submissions:
        tensors, reason = await checked_update(store, submission, base)
        key = str(submission.wallet)
        if tensors is None:
            early[key] = reason
        else:
            inputs.append(UpdateInput(key, tensors, int(submission.num_samples)))

    if inputs:
        result = await asyncio.to_thread(rule.aggregate, dict(base), inputs, reference=reference)
        global_model = result.global_model
        judgments = {j.key: j for j in result.verdicts}
    else:
        global_model, judgments = dict(base), {}

    judged: list[JudgedSubmission] = []
    for submission in submissions:
        key = str(submission.wallet)
        if key in early:
            verdict, score, reason = Verdict.REJECTED, 0, early[key]
        else:
            judgment = judgments[key]
            verdict = Verdict.ACCEPTED if judgment.accepted else Verdict.REJECTED
            score = judgment.score_bps if judgment.accepted else 0
            reason = Reason(judgment.reason_code)
        await operator.judge_submission(
            chain, aggregator, pool_key, number, submission.wallet, verdict, score, reason
        )
        judged.append(JudgedSubmission(submission.wallet, verdict, reason, score))

    finalized = await operator.finalize_round(
        chain, store, aggregator, pool_key, number, encode_tensors(global_model)
    )
    return RoundOutcome(
        number, judged, global_model, finalized.global_model_hash, finalized.global_model_cid
    )
