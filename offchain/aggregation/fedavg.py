"""FedAvg: the sample-weighted mean of the updates.

McMahan, Moore, Ramage, Hampson, Agüera y Arcas, "Communication-Efficient
Learning of Deep Networks from Decentralized Data", AISTATS 2017.

Not robust on its own (one scaled update moves the mean anywhere the
pre-filter lets it); it is the quality baseline and the cheapest rule.
Every pre-filtered update is accepted and weighted by its capped claim
(`base.capped_weights`); scores come from the reward policy.

With central DP (`dp_clip` C and `dp_noise_multiplier` σ, optional
`dp_delta`; McMahan et al., ICLR 2018, see `central_dp`), each accepted
update is instead clipped to norm C and the updates are averaged with equal
weights (a sample-weighted mean has no bounded sensitivity); the rule
computes this noiseless mean exactly, and `offchain.judging.decide_round`
adds the Gaussian noise (σC/n per coordinate) and records ε.
"""

from __future__ import annotations

from collections.abc import Sequence

from client_kit.enums import Reason
from offchain.errors import InvalidRule

from .base import AggregationRule, Decision, RoundContext, sample_coefficients, weight_coefficients
from .central_dp import DEFAULT_DELTA, CentralDP


class FedAvg(AggregationRule):
    """FedAvg; `central_dp` is set when the pool asks for central DP
    (`InvalidRule` unless both dp_clip and dp_noise_multiplier are given, valid)."""

    name = "fedavg"

    def __init__(
        self,
        *,
        dp_clip: float | None = None,
        dp_noise_multiplier: float | None = None,
        dp_delta: float = DEFAULT_DELTA,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if (dp_clip is None) != (dp_noise_multiplier is None):
            raise InvalidRule("central DP needs both dp_clip and dp_noise_multiplier")
        self.central_dp = (
            None if dp_clip is None else CentralDP(dp_clip, dp_noise_multiplier, dp_delta)
        )

    def speculate(self, weights: Sequence[int]) -> list[float] | None:
        if self.central_dp is not None:
            return None  # the clip scales need the norms, known only after the scan
        return weight_coefficients(weights, [True] * len(weights))

    def decide(self, ctx: RoundContext) -> Decision:
        everyone = [True] * len(ctx.candidates)
        if self.central_dp is None:
            coeffs = sample_coefficients(ctx.candidates, everyone)
        else:
            coeffs = self.central_dp.clip_coefficients([c.stats.norm for c in ctx.candidates])
        model = ctx.weighted_model(coeffs)
        return Decision([Reason.OK] * len(ctx.candidates), model)
