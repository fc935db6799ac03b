"""Rule names a pool can choose, and the default."""

from __future__ import annotations

from collections.abc import Callable

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

__all__ = ["DEFAULT_REWARD_POLICY", "DEFAULT_RULE", "RULES", "make_rule"]


def make_rule(name: str = DEFAULT_RULE, **params: object) -> AggregationRule:
    """Instantiate a rule by name (`ValueError` for an unknown name)."""
    try:
        factory = RULES[name]
    except KeyError as exc:
        raise ValueError(f"unknown aggregation rule {name!r}; choose from {sorted(RULES)}") from exc
    return factory(**params)
