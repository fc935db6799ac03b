"""From reward-policy values to basis points, and from basis points to lamports.

Scores are what participants are paid by, so both steps are exact integer
arithmetic that the on-chain program can repeat.

`to_bps`: non-negative values of the accepted updates (1 each under the
`equal` policy, the leave-one-out contributions under `contribution`)
become integers summing to exactly 10 000 by the largest-remainder method,
computed with exact rationals: each gets floor(10 000·w_i/Σw), and the
leftover points go one each to the largest fractional parts, ties to the
smaller key (inputs are in key order).

`split_reward`: lamports of a round, `reward_i = reward_per_round · score_i
// Σ score` (integer floor, as the program does with u128 intermediates).
The few lamports left over by flooring stay in the pool.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction

from offchain.errors import InvalidRoundInput

from .types import BPS_TOTAL


def to_bps(weights: Sequence[float]) -> list[int]:
    """Largest-remainder basis points; all zeros if no weight is positive."""
    exact = [Fraction(w) if w > 0 else Fraction(0) for w in weights]
    total = sum(exact, Fraction(0))
    if total == 0:
        return [0] * len(weights)
    shares = [w * BPS_TOTAL / total for w in exact]
    points = [int(share) for share in shares]  # floor: shares are non-negative
    leftover = BPS_TOTAL - sum(points)
    order = sorted(range(len(shares)), key=lambda i: (-(shares[i] - points[i]), i))
    for i in order[:leftover]:
        points[i] += 1
    return points


def split_reward(reward_per_round: int, scores_bps: Mapping[str, int]) -> dict[str, int]:
    """Lamports per participant: reward · score // total score (remainder stays in the pool)."""
    if reward_per_round < 0:
        raise InvalidRoundInput("reward_per_round must be non-negative")
    total = sum(scores_bps.values())
    if total <= 0:
        return dict.fromkeys(scores_bps, 0)
    return {key: reward_per_round * score // total for key, score in scores_bps.items()}
