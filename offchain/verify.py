"""`fedstake verify-round POOL ROUND`: recompute a finalized round from the chain
and storage alone, and compare.

Inputs come from the round record the operator pinned (`Round.record_cid`,
`offchain.record`), each checked against what the chain and the task
package say before it is used:

* the record is this pool's and this round's; its base is the round's
  on-chain `base_model_hash`; its global model is the chain's hash and CID;
* rule, parameters and declared norm bound are the task package's, the
  reward policy is the pool's;
* the previous base and the sources are the previous round's record's base
  and accepted revealed updates (round 1: none);
* each submission still on chain has the record's commitment data (revealed,
  hash, CID, claim, time) and verdict, reason and score; the round's counters
  match the record;
* every piece of content fetched hashes to the hash the record names.

Then it reruns `offchain.judging.decide_round` — the operator's own code on
the same inputs, including the objective checks on the revealed bytes and
the pool's rule — and compares every verdict, reason and score and the
global model's hash with the chain. For a round with central DP the noise is
the operator's secret, so it compares the hash of the model before the noise
(recorded in the round record) and the recorded ε figures, and checks that
the published model minus that model is Gaussian noise of the recorded std
(`central_dp.noise_z_scores`: a statistical check, not a bit-exact one).
In a pool with encrypted updates the revealed bytes are sealed to the
round's key: the caller passes that round's secret key (`round_key`; the
operator gives it to auditors), which must be the key whose public half the
chain binds (task package for round 1, previous round's record after);
without it the round cannot be rerun (`RoundKeyRequired`), with another key
`WrongRoundKey`. The record's `next_round_key` is checked to be present
exactly in such pools.
The result is a list of differences (empty: the round checks out). Content
the store cannot deliver is an error (`RoundInputUnavailable`), never a
verdict on the operator.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from solders.pubkey import Pubkey

from client_kit.actions.reads import find_round, list_submissions, load_pool
from client_kit.enums import Verdict
from client_kit.errors import FedstakeError
from client_kit.gateway.base import ChainGateway
from client_kit.sealing import RoundKeypair
from client_kit.storage.base import ContentStore
from client_kit.training.task import AggregationSpec
from offchain.aggregation.central_dp import NOISE_Z_LIMIT, noise_z_scores
from offchain.aggregator import (
    fetch_record,
    fetch_submission_bytes,
    fetch_task,
    fetch_tensors,
    sealed_to,
)
from offchain.judging import RoundInputs, SubmissionInput, decide_round, declared_norm_bound
from offchain.record import Content, JudgedEntry, RoundRecord


class RoundNotFinalized(FedstakeError):
    """The round does not exist or has not been finalized: nothing to verify."""


class RoundKeyRequired(FedstakeError):
    """The pool encrypts its updates: verifying a round needs that round's
    secret key (`--round-key FILE`)."""


class WrongRoundKey(FedstakeError):
    """The given secret key is not the one of the public key the chain binds
    for this round."""


@dataclass(frozen=True)
class Difference:
    """One disagreement: what, what the chain (or the record) says, what was recomputed."""

    what: str
    recorded: str
    recomputed: str

    def line(self) -> str:
        return f"✗ {self.what}: recorded {self.recorded}, recomputed {self.recomputed}"


@dataclass
class Verification:
    """The outcome of `verify_round`: `ok` when nothing differs."""

    pool: Pubkey
    round: int
    record_cid: str
    rule: str = ""
    policy: str = ""
    submissions: int = 0
    global_hash: str = ""
    differences: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences

    def differ(self, what: str, recorded: object, recomputed: object) -> None:
        if recorded != recomputed:
            self.differences.append(Difference(what, _text(recorded), _text(recomputed)))

    def report(self) -> str:
        """A readable report: a summary line, then each difference or a ✓."""
        head = (
            f"round {self.round} of pool {self.pool}: {self.submissions} submissions, "
            f"rule {self.rule}, policy {self.policy}, record {self.record_cid}"
        )
        if self.ok:
            return f"{head}\n✓ every verdict, score and the global model {self.global_hash} match"
        return "\n".join([head, *(d.line() for d in self.differences)])

    def as_dict(self) -> dict:
        return {
            "pool": str(self.pool),
            "round": self.round,
            "record_cid": self.record_cid,
            "ok": self.ok,
            "differences": [d.__dict__ for d in self.differences],
        }


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    return str(value)


def _verdict_text(verdict: Verdict, reason: object, score: int) -> str:
    code = getattr(reason, "code", reason)
    return f"{verdict.value}/{code}/{score} bps"


async def verify_round(
    chain: ChainGateway,
    store: ContentStore,
    pool_key: Pubkey,
    number: int,
    *,
    round_key: RoundKeypair | None = None,
) -> Verification:
    """Recomputes round `number` of `pool_key` (see the module docstring).

    Raises `PoolNotFound`, `RoundNotFinalized`, `RoundKeyRequired` /
    `WrongRoundKey` (encrypted pools), and `RoundInputUnavailable` when the
    store cannot deliver the record or a piece of content."""
    pool = await load_pool(chain, pool_key)
    state = await find_round(chain, pool_key, number)
    if state is None or not state.finalized:
        raise RoundNotFinalized(f"round {number} of pool {pool_key} is not finalized")
    record = await fetch_record(store, state)
    result = Verification(
        pool_key,
        number,
        state.record_cid_str,
        rule=record.rule,
        policy=record.reward_policy.value,
        submissions=len(record.submissions),
        global_hash=bytes(state.global_model_hash).hex(),
    )
    check = result.differ
    check("record pool/round", (str(pool_key), number), (str(record.pool), record.round))
    check("base model hash", bytes(state.base_model_hash), record.base.hash)
    check(
        "global model hash in the record", bytes(state.global_model_hash), record.global_model.hash
    )
    check("global model CID in the record", state.global_model_cid_str, record.global_model.cid)
    check("reward policy", pool.reward_policy.value, record.reward_policy.value)
    task = await fetch_task(store, pool)
    check("rule", task.aggregation.rule, record.rule)
    check("rule parameters", dict(task.aggregation.params), dict(record.params))
    check("declared norm bound", declared_norm_bound(task), record.norm_bound)

    sources = list(record.sources)
    previous = None
    if number > 1:
        before = await find_round(chain, pool_key, number - 1)
        if before is None or not before.finalized:
            raise RoundNotFinalized(f"round {number - 1} of pool {pool_key} is not finalized")
        previous = await fetch_record(store, before)
        check("previous base", previous.base, record.previous_base)
        check(
            "base is the previous round's global model",
            bytes(before.global_model_hash),
            record.base.hash,
        )
        expected = previous.accepted_sources()
        what = "sources (previous round's accepted updates)"
        if task.privacy.encrypt_updates:  # sealed again to this round's key: new CIDs
            check(
                what, [(s.author, s.hash) for s in expected], [(s.author, s.hash) for s in sources]
            )
        else:
            check(what, expected, sources)
    else:
        check("previous base (round 1)", None, record.previous_base)
        check("sources (round 1)", [], sources)

    public = sealed_to(task, number, previous)
    if public is not None and round_key is None:
        raise RoundKeyRequired(
            f"pool {pool_key} encrypts its updates: verifying round {number} needs "
            "that round's secret key (--round-key FILE)"
        )
    if public is not None and round_key is not None and round_key.public != public:
        raise WrongRoundKey(
            f"the given key is not round {number}'s (its public key is {public.hex()})"
        )
    check(
        "next round key recorded (encrypted updates)",
        task.privacy.encrypt_updates,
        record.next_round_key is not None,
    )

    await _compare_chain_submissions(chain, pool_key, number, record, result)
    check("judged count", state.judged_count, len(record.submissions))
    for verdict, counted in (
        (Verdict.ACCEPTED, state.accepted_count),
        (Verdict.EXCLUDED, state.excluded_count),
        (Verdict.SLASHED, state.slashed_count),
    ):
        check(
            f"{verdict.value} count", counted, sum(e.verdict is verdict for e in record.submissions)
        )
    check("total score", state.total_score, sum(e.score for e in record.submissions))

    inputs = await _inputs(store, record, sources, round_key if public is not None else None)
    decision = await asyncio.to_thread(decide_round, inputs)
    recomputed = {j.wallet: j for j in decision.judged}
    for entry in record.submissions:
        j = recomputed[entry.wallet]
        check(
            f"verdict of {entry.wallet}",
            _verdict_text(entry.verdict, entry.reason, entry.score),
            _verdict_text(j.verdict, j.reason, j.score_bps),
        )
    ours = decision.record.central_dp
    if record.central_dp is None and ours is None:
        check("global model hash", bytes(state.global_model_hash), decision.global_hash)
        return result
    if record.central_dp is None or ours is None or decision.noiseless_model is None:
        check("central DP", record.central_dp, ours)
        return result
    # The noise is the operator's secret: check the model before it exactly,
    # and that what was added is Gaussian noise of the recorded size.
    recorded = {**record.central_dp.to_dict(), "noiseless_hash": None}
    check("central DP figures", recorded, {**ours.to_dict(), "noiseless_hash": None})
    check("model before the noise", record.central_dp.noiseless_hash, ours.noiseless_hash)
    published = await fetch_tensors(store, record.global_model, "global model")
    z = noise_z_scores(published, decision.noiseless_model, ours.noise_std)
    check(
        f"noise is N(0, {ours.noise_std:.3g}²) per coordinate (|z| ≤ {NOISE_Z_LIMIT:g})",
        True,
        all(abs(v) <= NOISE_Z_LIMIT for v in z),
    )
    return result


async def _compare_chain_submissions(
    chain: ChainGateway, pool: Pubkey, number: int, record: RoundRecord, result: Verification
) -> None:
    """Each submission account still open must be in the record, as recorded."""
    for _, sub in await list_submissions(chain, pool, number):
        entry = record.entry(sub.wallet)
        if entry is None:
            result.differ(f"submission of {sub.wallet}", "on chain", "missing from the record")
            continue
        on_chain = JudgedEntry.of_submission(sub)
        if on_chain != entry:
            result.differ(
                f"submission of {sub.wallet} (chain vs record)",
                _verdict_text(sub.verdict, sub.reason, int(sub.score)),
                _verdict_text(entry.verdict, entry.reason, entry.score)
                if (on_chain.verdict, on_chain.reason, on_chain.score)
                != (entry.verdict, entry.reason, entry.score)
                else "other commitment data",
            )


async def _inputs(
    store: ContentStore, record: RoundRecord, sources: list, round_key: RoundKeypair | None
) -> RoundInputs:
    base = await fetch_tensors(store, record.base, "base model")
    previous = (
        None
        if record.previous_base is None
        else await fetch_tensors(store, record.previous_base, "previous base model")
    )
    reference = (
        None
        if record.reference is None
        else await fetch_tensors(store, record.reference, "reference update")
    )
    fetched = {
        s.author: await fetch_tensors(
            store, Content(s.hash, s.cid), f"source {s.author}", round_key
        )
        for s in sources
    }
    submissions = [
        SubmissionInput.of_entry(
            e, None if e.cid is None else await fetch_submission_bytes(store, e.cid, e.wallet)
        )
        for e in record.submissions
    ]
    return RoundInputs(
        pool=record.pool,
        round=record.round,
        aggregation=AggregationSpec(record.rule, dict(record.params)),
        norm_bound=record.norm_bound,
        reward_policy=record.reward_policy,
        base=base,
        base_content=record.base,
        submissions=submissions,
        previous_base=previous,
        previous_base_content=record.previous_base,
        reference=reference,
        reference_content=record.reference,
        sources=fetched,
        source_contents=tuple(sources),
        round_key=round_key,
        next_round_key=record.next_round_key,
    )
