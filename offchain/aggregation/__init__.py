"""Deterministic, robust aggregation of participants' updates.

Public interface (consumed by the aggregator service and verify-round):

    rule = make_rule("trusted_mean", norm_bound=5.0, reward_policy="contribution")
    check = check_update_bytes(data, update_hash, base, num_samples, norm_bound)
    result = rule.aggregate(base, updates, reference=ref, published={key: update, ...})
    result.verdicts      # Judgment(key, code, score_bps) per update, key order
    #   .verdict / .verdict_code  Accepted 1 | Excluded 2 | Slashed 3 (from the code)
    #   .reason / .reason_code "ok" 0 | objective 1..=63 | statistical 64..=127
    result.global_model  # base + aggregated delta, float32 tensors
    result.model_hash()  # SHA-256 of the canonical bytes
    split_reward(reward_per_round, {v.key: v.score_bps for v in result.verdicts})

Updates are deltas (new local weights − base); see `types`. Their tensors may
be arrays in memory or views of canonical files (`mapped.open_update`), read
piece by piece; `workers` is a thread count or an executor
(`ray_executor.RayExecutor` shards the passes over a Ray cluster); the bytes
are the same either way (`passes`, `kernels`). Which faults slash
and which only exclude: `objective` and `prefilter`. Why the bytes are
reproducible is explained in `fixedpoint`; how contributions are measured in
`contribution`.
"""

from .base import AggregationRule, Decision, RoundContext, capped_weights
from .contribution import (
    ContributionMeasure,
    ValidationLoss,
    loo_contributions,
    quantize_loss,
    reference_alignment,
)
from .fedavg import FedAvg
from .fltrust import FLTrust
from .median import CoordinateMedian
from .multikrum import MultiKrum
from .objective import (
    NORM_BOUND_MARGIN,
    ObjectiveCheck,
    check_update_bytes,
    declared_norm,
    norm_bound_for,
    objective_reason,
)
from .prefilter import GLOBAL_DELTA, PreFilter, Published
from .registry import DEFAULT_REWARD_POLICY, DEFAULT_RULE, RULES, make_rule, rule_for_task
from .scoring import split_reward, to_bps
from .trimmed_mean import TrimmedMean
from .trusted_mean import TrustedMean
from .types import (
    BPS_TOTAL,
    AggregationResult,
    Judgment,
    Tensors,
    UpdateInput,
)

__all__ = [
    "BPS_TOTAL",
    "DEFAULT_REWARD_POLICY",
    "DEFAULT_RULE",
    "GLOBAL_DELTA",
    "NORM_BOUND_MARGIN",
    "RULES",
    "AggregationResult",
    "AggregationRule",
    "ContributionMeasure",
    "CoordinateMedian",
    "Decision",
    "FLTrust",
    "FedAvg",
    "Judgment",
    "MultiKrum",
    "ObjectiveCheck",
    "PreFilter",
    "Published",
    "RoundContext",
    "Tensors",
    "TrimmedMean",
    "TrustedMean",
    "UpdateInput",
    "ValidationLoss",
    "capped_weights",
    "check_update_bytes",
    "declared_norm",
    "loo_contributions",
    "make_rule",
    "norm_bound_for",
    "objective_reason",
    "quantize_loss",
    "reference_alignment",
    "rule_for_task",
    "split_reward",
    "to_bps",
]
