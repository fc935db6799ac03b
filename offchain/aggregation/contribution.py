"""Contribution: what each accepted update is worth, measured by the operator.

The `contribution` reward policy pays accepted submissions pro rata to their
leave-one-out (LOO) value on the operator's validation set — the same root
data that yields the reference update — clipped at 0 (Jia et al., "Towards
Efficient Data Valuation Based on the Shapley Value", AISTATS 2019, and the
federated LOO/Shapley baselines of Liu et al., "GTG-Shapley", ACM TIST 2022):

    m      = (1/n) Σ_{j∈A} u_j                   the equal-weight mean of the n accepted updates
    m_{−i} = (n·m − u_i) / (n − 1)               the same mean without u_i (m_{−i} = 0 if n = 1)
    c_i    = max(0, q(L(base + m_{−i})) − q(L(base + m)))

L is the caller's validation loss of a full model; q rounds it to the grid
2^−`LOSS_BITS` (non-finite or huge losses become `LOSS_CAP`). So c_i is how
much worse the validation loss gets without update i.

Why this form:
- **Claims never enter.** The mean is unweighted, so a participant's
  self-reported sample count cannot raise its score (its capped weight only
  moves the model). An update earns by making the model better, whatever it
  claims.
- **Rule-independent.** Every rule is valued on the same mean of the updates
  it accepted, so scores mean the same thing for every rule.
- **Cheap.** n + 1 validation passes per round (GTG-Shapley needs many
  permutations of n evaluations; LOO's known weakness — two near-identical
  useful updates each look redundant — only lowers what copies earn).
- **Reproducible.** m is the exact fixed-point mean (`fixedpoint`), m_{−i}
  and base + m_{−i} are element-wise float64 operations (correctly rounded),
  and the quantized losses are exact dyadic numbers, so `to_bps` gives the
  same integers everywhere — provided L itself is reproducible: evaluate it in
  float64 on one thread (as `bench/fl_sim.validation_loss` does). The grid
  then absorbs last-bit differences of another machine's float64 except when
  a loss lies within ~1e-16 of a grid point.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from .fixedpoint import weighted_sum
from .layout import Layout, Rows, apply_delta
from .types import Tensors

ValidationLoss = Callable[[Tensors], float]
"""Loss of a full model (float32 tensors in the base's layout) on the operator's
validation set; lower is better. Must be deterministic."""

LOSS_BITS = 30
LOSS_CAP = float(2**20)


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
