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
from .executor import Executor
from .fedavg import FedAvg
from .fltrust import FLTrust
from .median import CoordinateMedian
from .multikrum import MultiKrum
from .prefilter import PreFilter
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

# Parameters a task package may set, per rule, with the range each must fall in
# (`prefilter` and `workers` are the operator's, never the organization's). Every
# rule takes the pool's declared norm bound (objective checks and one-read sums).
# Every rule shares the pre-filter, so every pool may set its replay screen's
# thresholds: tasks whose honest updates are nearly parallel (few parameters,
# IID data) need a peer threshold closer to 1 and a smaller resend tolerance
# (see `prefilter`).
_SCREEN = {"peer_replay_cos": (0.5, 1.0), "replay_tolerance": (0.0, 0.5)}
_BOUND = {"norm_bound": (1e-12, 1e12), **_SCREEN}
_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "fedavg": {**_BOUND},
    "median": {**_BOUND, "min_cos": (-1.0, 1.0)},
    "trimmed_mean": {**_BOUND, "beta": (0.0, 0.499999), "min_cos": (-1.0, 1.0)},
    "multikrum": {**_BOUND, "byzantine_fraction": (0.0, 0.499999), "keep": (1, 1_000_000)},
    "fltrust": {**_BOUND, "min_trust": (-1.0, 1.0)},
    "trusted_mean": {
        **_BOUND,
        "sigmas": (0.5, 100.0),
        "peer_sigmas": (0.5, 100.0),
        "strong_sigmas": (0.5, 100.0),
        "kappa": (0.5, 100.0),
    },
}


def _keyword_parameters(factory: Callable[..., AggregationRule]) -> set[str]:
    """Keyword-only parameters of the rule's __init__ and of every base it forwards to."""
    names: set[str] = set()
    for cls in getattr(factory, "__mro__", (factory,)):
        init = cls.__dict__.get("__init__") if isinstance(cls, type) else cls
        if init is None:
            continue
        names |= {
            p.name
            for p in inspect.signature(init).parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY
        }
    return names


def make_rule(name: str = DEFAULT_RULE, **params: object) -> AggregationRule:
    """Instantiate a rule by name; `InvalidRule` for an unknown name or a
    parameter the rule does not take."""
    try:
        factory = RULES[name]
    except KeyError:
        raise InvalidRule(
            f"unknown aggregation rule {name!r}; choose from {sorted(RULES)}"
        ) from None
    unknown = sorted(set(params) - _keyword_parameters(factory))
    if unknown:
        raise InvalidRule(f"rule {name!r} takes no parameter {', '.join(unknown)}")
    return factory(**params)


def rule_for_task(
    spec: AggregationSpec,
    *,
    workers: int | Executor = 1,
    norm_bound: float | None = None,
    reward_policy: RewardPolicy | str | int = RewardPolicy.EQUAL,
) -> AggregationRule:
    """The rule a task package names, with its parameters checked: each must be
    one the rule lets a pool set, a number (an integer for `keep`) in range.
    Raises `InvalidRule` otherwise.

    `reward_policy` is the pool's (on chain); `norm_bound` the bound the task
    declares through its training config (`offchain.judging.declared_norm_bound`),
    used when the task's rule parameters do not set `norm_bound` themselves."""
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
    params: dict[str, object] = {"norm_bound": norm_bound, **spec.params}
    screen = {key: float(params.pop(key)) for key in _SCREEN if key in params}  # type: ignore[arg-type]
    if screen:
        params["prefilter"] = PreFilter(**screen)
    return make_rule(spec.rule, workers=workers, reward_policy=reward_policy, **params)
