"""Math oracle for the default rule: on clean inputs it *is* FedAvg with capped claims.

Clean inputs: updates that share a direction with the operator's reference
(plus independent noise), as honest updates of one round do. The default
rule must then accept everyone and return exactly what FedAvg returns with
the same capped weights — bit for bit, since both go through the same exact
fixed-point sum — and that equals the float64 formula
base + Σ w_i·u_i / Σ w_i, w_i = min(claim_i, 2 × lower median claim), to
within the documented fixed-point resolution (fixedpoint: the largest term
keeps 22 bits, so |error| ≤ N·max_i|w_i u_i|/Σw · 2^−21 per coordinate,
then one float32 rounding of the sum).
"""

from __future__ import annotations

import numpy as np
import pytest

from offchain.aggregation import DEFAULT_RULE, UpdateInput, capped_weights, make_rule

from .conftest import make_base


def clean_round(seed: int, count: int):
    base = make_base({"layer.weight": (32, 40), "layer.bias": (32,), "out.weight": (10, 32)}, seed)
    rng = np.random.default_rng(seed + 100)
    direction = {n: rng.standard_normal(v.shape) for n, v in base.items()}
    claims = rng.integers(5, 2000, size=count).tolist()
    claims[0] = 50 * max(claims)  # an inflated claim among honest updates
    updates = [
        UpdateInput(
            f"p{i:03d}",
            {
                n: (0.01 * direction[n] + 0.01 * rng.standard_normal(v.shape)).astype(np.float32)
                for n, v in base.items()
            },
            claim,
        )
        for i, claim in enumerate(claims)
    ]
    reference = {n: (0.01 * v).astype(np.float32) for n, v in direction.items()}
    return base, updates, reference


@pytest.mark.parametrize(("seed", "count"), [(0, 5), (1, 20), (2, 100)])
def test_default_rule_equals_fedavg_with_capped_weights(seed: int, count: int) -> None:
    # Given a clean round (one participant claims 50× the largest honest count)
    base, updates, reference = clean_round(seed, count)
    # When the default rule and FedAvg aggregate it
    default = make_rule(DEFAULT_RULE).aggregate(base, updates, reference=reference)
    fedavg = make_rule("fedavg").aggregate(base, updates)
    # Then everyone is accepted and the models are the same bytes
    assert all(v.accepted for v in default.verdicts)
    assert default.model_hash() == fedavg.model_hash()
    # And both equal the float64 FedAvg formula with capped weights, within the resolution
    weights = np.array(capped_weights([u.num_samples for u in updates], 2.0), dtype=np.float64)
    assert weights[0] == 2 * sorted(u.num_samples for u in updates)[(count - 1) // 2]
    for name, tensor in base.items():
        terms = np.stack(
            [w * u.tensors[name].astype(np.float64) for w, u in zip(weights, updates, strict=True)]
        )
        expected = tensor.astype(np.float64) + terms.sum(axis=0) / weights.sum()
        bound = count * np.abs(terms).max() / weights.sum() * 2.0**-21
        tolerance = bound + np.abs(expected) * 2.0**-24  # + the final float32 rounding
        assert np.all(np.abs(default.global_model[name] - expected) <= tolerance)


def test_an_inflated_claim_moves_the_model_no_more_than_the_cap() -> None:
    # Given the same clean round with the first claim at 50× and at exactly the cap
    base, updates, reference = clean_round(3, 20)
    cap = 2 * sorted(u.num_samples for u in updates[1:] + updates[:1])[(20 - 1) // 2]
    at_cap = [UpdateInput(updates[0].key, updates[0].tensors, cap), *updates[1:]]
    rule = make_rule(DEFAULT_RULE)
    # When both are aggregated, Then the models are identical: the extra claim bought nothing
    inflated = rule.aggregate(base, updates, reference=reference)
    capped = rule.aggregate(base, at_cap, reference=reference)
    assert inflated.model_hash() == capped.model_hash()
    assert [v.score_bps for v in inflated.verdicts] == [v.score_bps for v in capped.verdicts]
