"""Exact fixed-point arithmetic: why the aggregate is the same bytes everywhere.

Floating-point sums depend on the order of additions, and BLAS, torch and
numpy all reorder additions by thread count and CPU. The aggregator therefore
never lets a library add non-integers. Every quantity that feeds a verdict or
the model is reduced to *integers on a power-of-two grid* first; sums of
integers are exact, so any order (any thread count, any machine, another
language) gives the same result. The only rounding left happens in
element-wise IEEE operations (a product, a division, a final cast), which are
correctly rounded and therefore reproducible.

Weighted sums (FedAvg, Multi-Krum, FLTrust, the default rule): for
coefficients a_i and updates u_i with |u_i| ≤ M_i, one exponent G per sum
(`sum_exponent`) makes Σ_i |a_i|·M_i·2^G < 2^52. Each coordinate's term is
q_i = rint(float64(u_i) · (a_i·2^G)) — one correctly rounded product, then an
integer — and the terms are added in float64: every partial sum is an integer
below 2^53, so every addition is exact and the order cannot matter. The new
model is float32(float64(base) + (Σ q_i)·2^-G): one rounding in the addition,
one in the cast. Resolution: 2^-G ≈ Σ|a_i|M_i·2^-52, i.e. about 40 bits below
the largest coordinate of any update for up to thousands of updates — finer
than the float32 result can show.

M_i is max |u_i| measured by the pre-filter's scan — or, when the pool
declares a norm bound B, the bound itself (`SumPlan.limit`: every accepted
update has max |u_i| ≤ ‖u_i‖ ≤ B(1 + margin)). That second choice fixes the
grid *before the data is read*, which is what lets the scan compute the
statistics and the sum in a single read: the sum is speculated over every
update with the coefficients they would get if all were accepted, a piece
above the limit (necessarily from an update that will be slashed) is left
out, and if the verdicts turn out otherwise the sum is redone with the final
coefficients (`base`). Both paths compute the same function, so the bytes do
not depend on which one ran.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .executor import Executor, as_executor
from .layout import Layout, Rows
from .passes import SUM_CHUNK, weighted

SUM_BITS = 52
MAX_GRID = 1000  # keeps a_i·2^G and 2^-G finite and normal for absurd inputs
MAX_EXPONENT = 100  # per-update grids of the geometry: keeps tiny updates' scales finite
LIMIT_SLACK = 2.0**-20  # max |x| above B(1 + margin)(1 + slack) means a norm over the bound
NOT_FINITE_BITS = 0x7F800000


def ceil_log2(x: float) -> int:
    """Smallest e with x < 2^e (x > 0), computed exactly from the float."""
    return math.frexp(x)[1]  # x = m·2^e with 0.5 ≤ m < 1


def sum_exponent(bounds: Sequence[float]) -> int:
    """Grid exponent G with Σ bounds · 2^G < 2^SUM_BITS (bounds: |a_i|·M_i)."""
    live = [b for b in bounds if b > 0]
    if not live:
        return 0
    exponent = SUM_BITS - ceil_log2(math.fsum(live))
    return max(-MAX_GRID, min(exponent, MAX_GRID))


def grid_exponent(maxabs: float, bits: int) -> int:
    """Exponent e with maxabs·2^e < 2^bits (0 for an all-zero row)."""
    if maxabs <= 0:
        return 0
    return min(bits - ceil_log2(maxabs), MAX_EXPONENT)


def limit_bits(limit: float) -> int:
    """The float32 bit pattern of the largest float32 ≤ limit (for max |x| tests)."""
    value = np.float32(limit)
    if float(value) > limit:
        value = np.nextafter(value, np.float32(0))
    return int(np.array(value, dtype=np.float32).view(np.uint32))


@dataclass(frozen=True)
class SumPlan:
    """One weighted sum's grid: scales a_i·2^G (float64 per row), unit 2^-G, and the
    max-|x| bit pattern above which the speculative scan leaves a piece out."""

    scales: np.ndarray
    unit: float
    grid: int
    limit_bits: int = NOT_FINITE_BITS

    @classmethod
    def of(
        cls, coeffs: Sequence[float], bounds: Sequence[float], limit: float | None = None
    ) -> SumPlan:
        """The plan for Σ coeffs[i]·u_i with max |u_i| ≤ bounds[i] (≤ limit if given)."""
        coeffs = [float(c) for c in coeffs]
        grid = sum_exponent([abs(c) * float(b) for c, b in zip(coeffs, bounds, strict=True)])
        biggest = max((abs(c) for c in coeffs if c != 0.0), default=1.0)
        grid = min(grid, MAX_GRID - ceil_log2(biggest))
        scales = np.array([math.ldexp(c, grid) for c in coeffs], dtype=np.float64)
        bits = NOT_FINITE_BITS if limit is None else limit_bits(limit)
        return cls(scales, math.ldexp(1.0, -grid), grid, bits)

    def subset(self, indices: Sequence[int]) -> SumPlan:
        """The same plan restricted to some rows (same grid)."""
        return SumPlan(self.scales[list(indices)], self.unit, self.grid, self.limit_bits)

    def same_terms(self, other: SumPlan) -> bool:
        """True if both plans compute the same sum (same grid, same scales)."""
        return self.grid == other.grid and np.array_equal(self.scales, other.scales)


def weighted_sum(
    layout: Layout,
    rows: Sequence[Rows],
    coeffs: Sequence[float],
    maxabs: Sequence[float],
    *,
    workers: int | Executor = 1,
    chunk: int = SUM_CHUNK,
) -> list[np.ndarray]:
    """Σ coeffs[i]·rows[i] per tensor, as float64 arrays, exactly on one 2^-G grid.

    `maxabs[i]` must bound |rows[i]| (from the pre-filter's statistics). Rows
    with a zero coefficient are not read. `chunk` only changes the work split,
    never the result.
    """
    plan = SumPlan.of(coeffs, maxabs)
    out = [np.zeros(size, dtype=np.float64) for size in layout.sizes]
    return weighted(as_executor(workers), layout, rows, plan, base=None, out=out, chunk=chunk)


def weighted_model(
    layout: Layout,
    base: Rows,
    rows: Sequence[Rows],
    plan: SumPlan,
    workers: int | Executor = 1,
    out: list[np.ndarray] | None = None,
) -> list[np.ndarray]:
    """float32(base + Σ plan's terms) per tensor (into `out` if given)."""
    if out is None:
        out = [np.empty(size, dtype=np.float32) for size in layout.sizes]
    return weighted(as_executor(workers), layout, rows, plan, base=base, out=out)
