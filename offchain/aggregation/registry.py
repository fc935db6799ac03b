"""Rule names a pool can choose, the default, and building a rule from a task.

The names are also listed in `client_kit.training.task.AGGREGATION_RULES`
(a task package records one, and client_kit cannot import this package); a
test checks the two lists are the same.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable

from client_kit.enums import RewardPolicy
from client_kit.training.task import AggregationSpec
from offchain.errors import InvalidRule

from .base import DEFAULT_REWARD_POLICY, AggregationRule
from .fedavg import FedAvg
from .fltrust import FLTrust
from .median import CoordinateMedian
from .multikrum import MultiKrum
from .trimmed_mean import TrimmedMean
from .trusted_mean import TrustedMean

RULES: dict[str, Callable[..., AggregationRule]] = {
    FedAvg.name: FedAvg,
    CoordinateMedian.name: CoordinateMedian,
    TrimmedMean.name: TrimmedMean,
    MultiKrum.name: MultiKrum,
    FLTrust.name: FLTrust,
    TrustedMean.name: TrustedMean,
}

DEFAULT_RULE = TrustedMean.name

__all__ = ["DEFAULT_REWARD_POLICY", "DEFAULT_RULE", "RULES", "make_rule", "rule_for_task"]

# Keyword parameters every rule takes from `AggregationRule.__init__`: the
# operator's (`prefilter`, `workers`) and the pool's own settings, which come
# from the chain and the task package rather than the rule's parameters.
_BASE_PARAMS = {
    p.name
    for p in inspect.signature(AggregationRule.__init__).parameters.values()
    if p.kind is inspect.Parameter.KEYWORD_ONLY
}

# Parameters a task package may set, per rule, with the range each must fall in
# (`prefilter` and `workers` are the operator's, never the organization's).
_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "fedavg": {},
    "median": {"min_cos": (-1.0, 1.0)},
    "trimmed_mean": {"beta": (0.0, 0.499999), "min_cos": (-1.0, 1.0)},
    "multikrum": {"byzantine_fraction": (0.0, 0.499999), "keep": (1, 1_000_000)},
    "fltrust": {"min_trust": (-1.0, 1.0)},
    "trusted_mean": {"sigmas": (0.5, 100.0), "kappa": (0.5, 100.0)},
}


def make_rule(name: str = DEFAULT_RULE, **params: object) -> AggregationRule:
    """Instantiate a rule by name; `InvalidRule` for an unknown name or a
    parameter the rule does not take."""
    try:
        factory = RULES[name]
    except KeyError:
        raise InvalidRule(
            f"unknown aggregation rule {name!r}; choose from {sorted(RULES)}"
        ) from None
    accepted = {
        p.name
        for p in inspect.signature(factory).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    } | _BASE_PARAMS
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise InvalidRule(f"rule {name!r} takes no parameter {', '.join(unknown)}")
    return factory(**params)


def rule_for_task(
    spec: AggregationSpec,
    *,
    workers: int = 1,
    norm_bound: float | None = None,
    reward_policy: RewardPolicy | str | int = RewardPolicy.EQUAL,
) -> AggregationRule:
    """The rule a task package names, with its parameters checked: each must be
    one the rule lets a pool set, a number (an integer for `keep`) in range.
    `norm_bound` (the declared L2 bound, `client_kit.training.task.declared_norm_bound`)
    and `reward_policy` (the pool's on-chain policy) are the pool's, passed through.
    Raises `InvalidRule` otherwise."""
    ranges = _RANGES.get(spec.rule)
    if ranges is None:
        raise InvalidRule(f"unknown aggregation rule {spec.rule!r}; choose from {sorted(RULES)}")
    for key, value in spec.params.items():
        if key not in ranges:
            allowed = ", ".join(sorted(ranges)) or "none"
            raise InvalidRule(f"{spec.rule}: no parameter {key!r} (allowed: {allowed})")
        low, high = ranges[key]
        integer = isinstance(low, int)
        if isinstance(value, bool) or not isinstance(value, int if integer else int | float):
            kind = "an integer" if integer else "a number"
            raise InvalidRule(f"{spec.rule}: {key} must be {kind}")
        if not (math.isfinite(value) and low <= value <= high):
            raise InvalidRule(f"{spec.rule}: {key} must be in [{low}, {high}], got {value}")
    return make_rule(
        spec.rule,
        workers=workers,
        norm_bound=norm_bound,
        reward_policy=reward_policy,
        **spec.params,
    )
