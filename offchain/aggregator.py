"""Judges one round of a pool: the aggregator's whole job for that round.

Once the round's reveal phase is over: a commitment never revealed is
Slashed (`not_revealed`); every revealed update is fetched by its CID and
checked against the on-chain `update_hash` (bytes received that do not hash
to it → Slashed `hash_mismatch`), decoded (undecodable, or a revealed CID
that is not a CID → Slashed `malformed`; wrong tensors → Slashed `shape`);
the rest go through the pool's robust rule, and `rule_verdict` maps each of
its judgments to a verdict: objective faults it finds (non-finite values, …)
are Slashed, its doubts only Excluded. Each verdict is recorded, the new
global model stored and its hash recorded.

Operator-side failures never become verdicts: a store that cannot deliver
raises `UpdateUnavailable` before anything is sent, and the round is retried
or, if nobody judges in time, expires (docs/PROTOCOL.md).

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
from client_kit.actions.reads import find_round, load_pool
from client_kit.canonical import MalformedUpdate, encode_tensors, tensors_hash
from client_kit.enums import Reason, Verdict
from client_kit.gateway.base import ChainGateway
from client_kit.storage.base import ContentStore
from offchain.aggregation import AggregationRule, Judgment, UpdateInput
from offchain.errors import RoundMismatch, RoundNotReady

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


def rule_verdict(judgment: Judgment) -> tuple[Verdict, Reason, int]:
    """The verdict, reason and score (bps) recorded for a rule's judgment.

    The class follows from the reason code (`Reason.verdict`): OK is Accepted
    with its score; an objective code (1..=63: a fault anyone can reproduce
    from the bytes) is Slashed; a statistical one only Excluded.
    """
    return judgment.verdict, judgment.code, judgment.score_bps


async def checked_update(
    store: ContentStore, submission: Submission, base: Mapping[str, np.ndarray]
) -> tuple[Tensors | None, Reason]:
    """The submission's update as float arrays, or None and the objective
    reason it cannot be used. Nothing a participant sends escapes as an
    exception (bytes that do not decode are `MALFORMED`); the store's failures
    do, as `UpdateUnavailable`: they are the operator's, not a fault."""
    if not submission.revealed:
        return None, Reason.NOT_REVEALED
    try:
        tensors = await operator.fetch_update(store, submission)
    except operator.UpdateHashMismatch:
        return None, Reason.HASH_MISMATCH
    except (operator.InvalidRevealedCid, MalformedUpdate):
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
    (the reveal deadline passed, or every commitment was revealed after the
    submission phase closed).

    Raises, before sending anything: `PoolNotFound`; `RoundMismatch` when
    `base` is not the pool's global model; `RoundNotReady` while the reveal
    phase is open; `UpdateUnavailable` when the store cannot deliver a
    revealed update. Then the chain's errors for transactions it sends.
    """
    pool = await load_pool(chain, pool_key)
    if tensors_hash(base) != pool.global_model_hash:
        raise RoundMismatch("the base model given does not match the pool's global model hash")
    number = pool.round
    current = await find_round(chain, pool_key, number)
    if current is None:
        raise RoundMismatch(f"pool {pool_key} has no round {number}")
    if not current.reveals_closed(await chain.unix_time()):
        raise RoundNotReady(f"round {number}: the reveal phase is still open")
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
            reason = early[key]
            verdict, score = reason.verdict, 0
        else:
            verdict, reason, score = rule_verdict(judgments[key])
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
