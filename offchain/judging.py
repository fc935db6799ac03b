"""One round's judgment as a pure function of its inputs: the operator and
`verify-round` run this same code on the same inputs and must reach the same
verdicts, scores and global model bytes.

Inputs (`RoundInputs`): the task's rule and parameters, the pool's declared
norm bound (from the task package) and on-chain reward policy, the round's
base model, the previous base (for the previous global delta), the
operator's reference update, the sources (the previous round's accepted
revealed updates) and, per submission, what the chain says of it and the
bytes received for its revealed CID.

How each submission is judged (docs/PROTOCOL.md, docs/AGGREGATION.md):

1. never revealed → Slashed `not_revealed`; a revealed CID that is not a
   CID → Slashed `malformed`;
   in a pool with encrypted updates (`RoundInputs.round_key` set): a
   revealed CID another submission of the round also revealed → Slashed
   `duplicate` for all but the unique earliest commitment (`committed_at`;
   a tie for earliest slashes the whole group, as the prefilter's duplicate
   rule does), then bytes that do not open with the round's secret key
   (`client_kit.sealing`) → Slashed `malformed`; the checks below run on
   the plaintext;
2. the objective checks on the bytes received
   (`offchain.aggregation.check_update_bytes`: hash, decoding, shapes,
   non-finite values, the declared norm bound) → Slashed with their reason;
3. the rest go through the pool's rule (`rule.aggregate`, with the
   reference update and the published sources): Accepted with a score from
   the reward policy, or Excluded with a statistical reason.

With central DP (FedAvg's `dp_clip`/`dp_noise_multiplier`), Gaussian noise
is added to the rule's noiseless model from `RoundInputs.noise_seed` (None:
OS entropy, the operator's default — the noise must stay secret), and the
record carries the ε spent (`CentralDPRecord`) and the noiseless model's
hash; `verify-round` recomputes that hash and checks the noise's statistics
instead of the global model's bytes.

Nothing here does I/O; a storage failure never reaches this module (the
caller has no bytes then and retries instead of judging).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from solders.pubkey import Pubkey

from client_kit.canonical import Tensors, encode_tensors, tensors_hash
from client_kit.enums import Reason, RewardPolicy, Verdict
from client_kit.sealing import RoundKeypair, SealedUpdateUnreadable, open_update
from client_kit.storage.cid import compute_cid, is_cid
from client_kit.training.task import AggregationSpec, TaskPackage
from offchain.aggregation import (
    GLOBAL_DELTA,
    AggregationRule,
    UpdateInput,
    check_update_bytes,
    norm_bound_for,
    rule_for_task,
)
from offchain.aggregation.central_dp import CentralDP
from offchain.aggregation.prefilter import later_copies
from offchain.record import CentralDPRecord, Content, JudgedEntry, RoundRecord, Source


def declared_norm_bound(task: TaskPackage) -> float | None:
    """The L2 bound an update of this task may not exceed (slashable above it):
    the rule parameter `norm_bound` if the task sets one, else derived from the
    training config's `clip_norm` and `noise_multiplier` (noise of standard
    deviation noise_multiplier × clip_norm per coordinate, as
    `client_kit.training.privacy` adds it), or None when nothing is clipped."""
    declared = task.aggregation.params.get("norm_bound")
    if isinstance(declared, int | float) and not isinstance(declared, bool):
        return float(declared)
    clip = task.training.clip_norm
    if clip is None:
        return None
    dimension = sum(math.prod(s) for s in task.model.parameter_shapes().values())
    noise_std = (task.training.noise_multiplier or 0.0) * clip
    return norm_bound_for(clip, noise_std, dimension)


def round_rule(
    spec: AggregationSpec, norm_bound: float | None, policy: RewardPolicy
) -> AggregationRule:
    """The pool's rule with its declared bound and reward policy (`InvalidRule`)."""
    return rule_for_task(spec, norm_bound=norm_bound, reward_policy=policy)


def needs_reference(spec: AggregationSpec, policy: RewardPolicy) -> bool:
    """Whether judging needs the operator's reference update: the rule uses it,
    or the contribution policy measures alignment with it."""
    rule = round_rule(spec, None, policy)
    return rule.needs_reference or policy is RewardPolicy.CONTRIBUTION


@dataclass(frozen=True, eq=False)  # holds arrays
class SubmissionInput:
    """One submission as the chain records it, with the bytes received for
    its revealed CID (None when not revealed, or when the CID is not a CID),
    and the bump of its account's address when read from the chain (an
    address detail for the judge transaction, never part of the judgment)."""

    wallet: Pubkey
    revealed: bool
    update_hash: bytes | None
    cid: str | None
    num_samples: int
    committed_at: int
    data: bytes | None = field(default=None, repr=False)
    bump: int | None = None

    @classmethod
    def of_entry(
        cls, entry: JudgedEntry, data: bytes | None, bump: int | None = None
    ) -> SubmissionInput:
        """The input for a submission as a record entry (or a `Submission`
        account, `JudgedEntry.of_submission`) describes it, with its bytes."""
        return cls(
            entry.wallet,
            entry.revealed,
            entry.update_hash,
            entry.cid,
            entry.num_samples,
            entry.committed_at,
            data,
            bump,
        )


@dataclass(frozen=True, eq=False)  # holds arrays
class RoundInputs:
    """Everything a round's judgment depends on (see the module docstring).

    base / previous_base / reference / sources are float32 tensors in the
    task's layout, each with the `Content` (hash, CID) naming it in the record.
    """

    pool: Pubkey
    round: int
    aggregation: AggregationSpec
    norm_bound: float | None
    reward_policy: RewardPolicy
    base: Tensors = field(repr=False)
    base_content: Content
    submissions: Sequence[SubmissionInput]
    previous_base: Tensors | None = field(default=None, repr=False)
    previous_base_content: Content | None = None
    reference: Tensors | None = field(default=None, repr=False)
    reference_content: Content | None = None
    sources: Mapping[Pubkey, Tensors] = field(default_factory=dict, repr=False)
    source_contents: Sequence[Source] = ()
    noise_seed: int | None = field(default=None, repr=False)
    round_key: RoundKeypair | None = field(default=None, repr=False)
    next_round_key: bytes | None = None


def duplicate_reveals(submissions: Sequence[SubmissionInput]) -> set[Pubkey]:
    """Wallets that revealed a CID another submission of the round also
    revealed, except the unique earliest commitment (`committed_at`) of each
    such CID; a tie for earliest puts the whole group in (same rule as the
    prefilter's duplicate updates, offchain/aggregation/prefilter.py)."""
    by_cid: dict[str, list[SubmissionInput]] = {}
    for sub in submissions:
        if sub.revealed and sub.cid is not None:
            by_cid.setdefault(sub.cid, []).append(sub)
    duplicates: set[Pubkey] = set()
    for group in by_cid.values():
        if len(group) > 1:
            times = [s.committed_at for s in group]
            duplicates.update(group[k].wallet for k in later_copies(times))
    return duplicates


@dataclass(frozen=True)
class JudgedSubmission:
    """One verdict: the participant, the verdict, why, and its score (bps)."""

    wallet: Pubkey
    verdict: Verdict
    reason: Reason
    score_bps: int

    @property
    def accepted(self) -> bool:
        return self.verdict is Verdict.ACCEPTED


@dataclass(frozen=True, eq=False)
class RoundDecision:
    """The judgment of a round: verdicts in wallet order, the new global model
    (canonical bytes, hash and CID) and the round record naming every input."""

    round: int
    judged: list[JudgedSubmission]
    global_model: bytes = field(repr=False)
    global_hash: bytes
    global_cid: str
    record: RoundRecord
    noiseless_model: Tensors | None = field(default=None, repr=False)

    @property
    def record_bytes(self) -> bytes:
        return self.record.to_bytes()


def decide_round(inputs: RoundInputs) -> RoundDecision:
    """Judges the round (see the module docstring); deterministic: the same
    inputs give the same verdicts, scores and bytes on any machine.

    Raises `InvalidRule` / `InvalidRoundInput` for an unusable configuration
    (e.g. a rule that needs the reference update and none given) — the
    operator's problem, never a verdict."""
    rule = round_rule(inputs.aggregation, inputs.norm_bound, inputs.reward_policy)
    updates: list[UpdateInput] = []
    early: dict[Pubkey, Reason] = {}
    duplicates = duplicate_reveals(inputs.submissions) if inputs.round_key else set()
    for sub in inputs.submissions:
        if not sub.revealed:
            early[sub.wallet] = Reason.NOT_REVEALED
            continue
        if sub.cid is None or not is_cid(sub.cid) or sub.data is None or sub.update_hash is None:
            early[sub.wallet] = Reason.MALFORMED
            continue
        data = sub.data
        if inputs.round_key is not None:
            if sub.wallet in duplicates:
                early[sub.wallet] = Reason.DUPLICATE
                continue
            try:
                data = open_update(data, inputs.round_key)
            except SealedUpdateUnreadable:
                early[sub.wallet] = Reason.MALFORMED
                continue
        check = check_update_bytes(
            data, sub.update_hash, inputs.base, int(sub.num_samples), inputs.norm_bound
        )
        if not check.passed:
            early[sub.wallet] = check.reason
            continue
        assert check.tensors is not None
        updates.append(
            UpdateInput(str(sub.wallet), check.tensors, int(sub.num_samples), sub.committed_at)
        )

    published: dict[str, Mapping[str, np.ndarray]] = {
        str(author): tensors for author, tensors in inputs.sources.items()
    }
    if inputs.previous_base is not None:
        published[GLOBAL_DELTA] = {
            name: (
                np.asarray(inputs.base[name], np.float64)
                - np.asarray(inputs.previous_base[name], np.float64)
            ).astype(np.float32)
            for name in inputs.base
        }
    if updates:
        result = rule.aggregate(
            inputs.base, updates, reference=inputs.reference, published=published or None
        )
        global_model = result.global_model
        judgments = {j.key: j for j in result.verdicts}
    else:
        global_model, judgments = dict(inputs.base), {}
    noiseless: Tensors | None = None
    central_record: CentralDPRecord | None = None
    central = getattr(rule, "central_dp", None)
    accepted = sum(1 for j in judgments.values() if j.code.verdict is Verdict.ACCEPTED)
    if isinstance(central, CentralDP) and accepted:
        noiseless = {name: np.asarray(t, np.float32) for name, t in global_model.items()}
        global_model = central.add_noise(
            noiseless, accepted, np.random.default_rng(inputs.noise_seed)
        )
        central_record = CentralDPRecord(
            clip=central.clip,
            noise_multiplier=central.noise_multiplier,
            delta=central.delta,
            accepted=accepted,
            noise_std=central.noise_std(accepted),
            epsilon_round=central.epsilon(1),
            epsilon_total=central.epsilon(inputs.round),
            noiseless_hash=tensors_hash(noiseless),
        )

    judged: list[JudgedSubmission] = []
    entries: list[JudgedEntry] = []
    for sub in sorted(inputs.submissions, key=lambda s: str(s.wallet)):
        if sub.wallet in early:
            reason, score = early[sub.wallet], 0
        else:
            judgment = judgments[str(sub.wallet)]
            reason, score = judgment.code, judgment.score_bps
        judged.append(JudgedSubmission(sub.wallet, reason.verdict, reason, score))
        entries.append(
            JudgedEntry(
                wallet=sub.wallet,
                revealed=sub.revealed,
                update_hash=sub.update_hash if sub.revealed else None,
                cid=sub.cid if sub.revealed else None,
                num_samples=int(sub.num_samples),
                committed_at=int(sub.committed_at),
                verdict=reason.verdict,
                reason=reason,
                score=score,
            )
        )
    model_bytes = encode_tensors(global_model)
    model = Content(tensors_hash(global_model), compute_cid(model_bytes))
    record = RoundRecord(
        pool=inputs.pool,
        round=inputs.round,
        rule=inputs.aggregation.rule,
        params=dict(inputs.aggregation.params),
        norm_bound=inputs.norm_bound,
        reward_policy=inputs.reward_policy,
        base=inputs.base_content,
        previous_base=inputs.previous_base_content,
        reference=inputs.reference_content,
        sources=tuple(inputs.source_contents),
        submissions=tuple(entries),
        global_model=model,
        central_dp=central_record,
        next_round_key=inputs.next_round_key,
    )
    return RoundDecision(
        inputs.round, judged, model_bytes, model.hash, model.cid, record, noiseless
    )
