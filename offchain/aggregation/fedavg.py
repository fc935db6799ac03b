"""FedAvg: the sample-weighted mean of the updates.

McMahan, Moore, Ramage, Hampson, Agüera y Arcas, "Communication-Efficient
Learning of Deep Networks from Decentralized Data", AISTATS 2017.

Not robust on its own (one scaled update moves the mean anywhere the
pre-filter lets it); it is the quality baseline and the cheapest rule.
Every pre-filtered update is accepted and weighted by its capped claim
(`base.capped_weights`); scores come from the reward policy.
"""

from __future__ import annotations

from collections.abc import Sequence

from client_kit.enums import Reason

from .base import AggregationRule, Decision, RoundContext, sample_coefficients, weight_coefficients


class FedAvg(AggregationRule):
    name = "fedavg"

    def speculate(self, weights: Sequence[int]) -> list[float]:
        return weight_coefficients(weights, [True] * len(weights))

    def decide(self, ctx: RoundContext) -> Decision:
        everyone = [True] * len(ctx.candidates)
        model = ctx.weighted_model(sample_coefficients(ctx.candidates, everyone))
        return Decision([Reason.OK] * len(ctx.candidates), model)
