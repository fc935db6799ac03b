"""Contribution: what each accepted update is worth, measured by the operator.

The `contribution` reward policy pays accepted submissions pro rata to a
value the operator computes on its own root data — the same data it trains
the round's reference update on — clipped at 0. Two measures:

**`reference` (default): alignment with the operator's reference update.**

    c_i = max(0, cos(u_i, r))

r is the operator's update on its root data from the same base model, so
−r points up the root-set loss: cos(u_i, r) is, to first order, how much
moving along u_i lowers the root-set (validation) loss per unit of update
length (the trust score of FLTrust, Cao et al., NDSS 2021). A participant
earns by pushing the model where the organization's data says it should go,
whatever it claims and however long its update is.

**`loo`: leave-one-out of the validation loss** (Jia et al., "Towards
Efficient Data Valuation Based on the Shapley Value", AISTATS 2019; the
federated baselines of Liu et al., "GTG-Shapley", ACM TIST 2022):

    m      = (1/n) Σ_{j∈A} u_j                   the equal-weight mean of the n accepted updates
    m_{−i} = (n·m − u_i) / (n − 1)               the same mean without u_i (m_{−i} = 0 if n = 1)
    c_i    = max(0, q(L(base + m_{−i})) − q(L(base + m)))

L is the caller's validation loss of a full model; q rounds it to the grid
2^−`LOSS_BITS` (non-finite or huge losses become `LOSS_CAP`).

Why `reference` is the default measure (bench/results/robustness.md): the
leave-one-out value of one update among n is a 1/n change of the model
measured on a small validation set, so it is mostly noise — about half of
the honest accepted judgments get 0 and accepted attackers get as much as
honest participants at 100 clients — and it costs n + 1 validation passes
per round. The reference cosine comes from one exact pass, is reproducible
from the published bytes and the reference update alone, pays ~90% of honest
accepted judgments, and gives accepted sign- or label-flipped updates almost
nothing (they point away from the reference).

Both measures:
- **never read claims**: the LOO mean is unweighted, the cosine ignores norms;
- **are reproducible**: cosines come from the exact fixed-point geometry
  (`geometry`); for LOO, m is the exact fixed-point mean, m_{−i} and
  base + m_{−i} are element-wise float64 operations (correctly rounded), and
  the quantized losses are exact dyadic numbers — provided L itself is
  reproducible (evaluate it in float64 on one thread, as
  `bench/fl_sim.validation_loss` does); the grid then absorbs last-bit
  differences of another machine's float64 except within ~1e-16 of a grid
  point.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from enum import Enum

import numpy as np

from .fixedpoint import weighted_sum
from .geometry import dots_with
from .layout import Layout, Rows, apply_delta
from .types import Tensors

ValidationLoss = Callable[[Tensors], float]
"""Loss of a full model (float32 tensors in the base's layout) on the operator's
validation set; lower is better. Must be deterministic."""

LOSS_BITS = 30
LOSS_CAP = float(2**20)


class ContributionMeasure(Enum):
    """Which value the `contribution` policy pays by (see module docstring)."""

    REFERENCE = "reference"
    LOO = "loo"


def reference_alignment(
    layout: Layout,
    rows: Sequence[Rows],
    maxabs: Sequence[float],
    reference: Rows,
    reference_maxabs: float,
    workers: int = 1,
) -> list[float]:
    """max(0, cos(u_i, reference)) for each row (exact geometry; 0 for a zero row)."""
    if not rows:
        return []
    dots, squares, ref_square = dots_with(
        layout, rows, maxabs, reference, reference_maxabs, workers
    )
    values = []
    for dot, square in zip(dots.tolist(), squares.tolist(), strict=True):
        cos = dot / math.sqrt(square * ref_square) if square > 0 and ref_square > 0 else 0.0
        values.append(max(cos, 0.0))
    return values


def quantize_loss(loss: float) -> float:
    """Round a loss to the 2^−LOSS_BITS grid; NaN, ±Inf and huge values become LOSS_CAP."""
    value = float(loss)
    if not math.isfinite(value) or value >= LOSS_CAP:
        return LOSS_CAP
    return math.ldexp(round(math.ldexp(value, LOSS_BITS)), -LOSS_BITS)


def loo_contributions(
    layout: Layout,
    base: Mapping[str, np.ndarray],
    rows: Sequence[Rows],
    maxabs: Sequence[float],
    validation: ValidationLoss,
    workers: int = 1,
) -> tuple[list[float], float]:
    """(c_i for each of the accepted `rows`, q(L(base + m))); see module docstring."""
    count = len(rows)
    if count == 0:
        return [], quantize_loss(validation(dict(base)))
    mean = weighted_sum(layout, rows, [1.0 / count] * count, maxabs, workers=workers)
    full = quantize_loss(validation(apply_delta(layout, base, mean)))
    values: list[float] = []
    for row in rows:
        if count == 1:
            without = [np.zeros_like(m) for m in mean]
        else:
            without = [
                (m * count - r.astype(np.float64)) / (count - 1)
                for m, r in zip(mean, row, strict=True)
            ]
        loss = quantize_loss(validation(apply_delta(layout, base, without)))
        values.append(max(loss - full, 0.0))
    return values, full
