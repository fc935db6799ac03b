"""Deterministic, robust aggregation of participants' updates.

Public interface (consumed by the aggregator service and verify-round):

    rule = make_rule("fltrust")            # or RULES[name](**params)
    result = rule.aggregate(base, updates, reference=ref)
    result.verdicts      # Judgment(key, accepted, reason, score_bps) per update
    result.global_model  # base + aggregated delta, float32 tensors
    result.model_hash()  # SHA-256 of the canonical bytes
    split_reward(reward_per_round, {v.key: v.score_bps for v in result.verdicts})

Updates are deltas (new local weights − base); see `types`. Why the bytes are
reproducible is explained in `fixedpoint`.
"""

from .base import AggregationRule, Decision, RoundContext
from .fedavg import FedAvg
from .fltrust import FLTrust
from .median import CoordinateMedian
from .multikrum import MultiKrum
from .prefilter import PreFilter
from .registry import DEFAULT_RULE, RULES, make_rule, rule_for_task
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
    "DEFAULT_RULE",
    "RULES",
    "AggregationResult",
    "AggregationRule",
    "CoordinateMedian",
    "Decision",
    "FLTrust",
    "FedAvg",
    "Judgment",
    "MultiKrum",
    "PreFilter",
    "RoundContext",
    "Tensors",
    "TrimmedMean",
    "TrustedMean",
    "UpdateInput",
    "make_rule",
    "rule_for_task",
    "split_reward",
    "to_bps",
]
