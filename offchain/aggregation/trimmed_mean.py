"""Coordinate-wise trimmed mean (β).

Yin, Chen, Ramchandran, Bartlett, "Byzantine-Robust Distributed Learning:
Towards Optimal Statistical Rates", ICML 2018.

For every coordinate, drop the k = ⌊β·N⌋ smallest and k largest values and
average the rest (unweighted, like Flower's FedTrimmedAvg). The kept values
are summed exactly: scaled by one power of two 2^G (largest possible value
below 2^30), rounded to integers in float32 and added in float64 (exact below
2^53), then divided by N − 2k — one correctly rounded division. Verdicts come
from agreement with the trimmed mean (see coordinatewise).
"""

from __future__ import annotations

import math

from offchain.errors import InvalidRule

from .base import AggregationRule, Decision, RoundContext
from .coordinatewise import agreement, reduce_sorted
from .fixedpoint import grid_exponent
from .passes import CoordinateReduction

TRIM_BITS = 30


def trimmed_count(count: int, beta: float) -> int:
    """Values cut from each side: ⌊β·N⌋, never leaving fewer than one value."""
    return min(math.floor(beta * count), (count - 1) // 2)


class TrimmedMean(AggregationRule):
    name = "trimmed_mean"

    def __init__(self, *, beta: float = 0.2, min_cos: float = 0.0, **kwargs) -> None:
        super().__init__(**kwargs)
        if not 0.0 <= beta < 0.5:
            raise InvalidRule("beta must be in [0, 0.5)")
        self.beta = beta
        self.min_cos = min_cos

    def decide(self, ctx: RoundContext) -> Decision:
        count = len(ctx.candidates)
        cut = trimmed_count(count, self.beta)
        grid = grid_exponent(max(ctx.maxabs), TRIM_BITS)
        reduction = CoordinateReduction(
            median=False,
            cut=cut,
            trim_scale=math.ldexp(1.0, grid),
            trim_unit=math.ldexp(1.0, -grid),
        )
        model, measured = reduce_sorted(ctx, reduction)
        decision = agreement(ctx, model, measured, self.min_cos)
        decision.details["trimmed_per_side"] = cut
        return decision
