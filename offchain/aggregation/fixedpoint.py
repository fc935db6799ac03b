"""Exact fixed-point arithmetic: why the aggregate is the same bytes everywhere.

Floating-point sums depend on the order of additions, and BLAS, torch and
numpy all reorder additions by thread count and CPU. The aggregator therefore
never lets a library add non-integers. Every quantity that feeds a verdict or
the model is reduced to *integers on a power-of-two grid* first; sums of
integers are exact, so any order (any thread count, any machine, another
language) gives the same result. The only rounding left happens in
element-wise IEEE operations (a product, a division, a final cast), which are
correctly rounded and therefore reproducible.

Weighted sums (FedAvg, Multi-Krum, FLTrust): for coefficients a_i and updates
u_i, pick one exponent G for the whole round (`sum_exponent`) such that every
term |a_i·u_i|·2^G < 2^22 and all terms together < 2^30. Each coordinate's
term is q_i = rint(fl32(u_i · fl32(a_i·2^G))), an integer; the result is
(Σ q_i)·2^-G. The integers are accumulated in int32 using the float32
"magic number" rounding: for |x| ≤ 2^22, fl32(x + 1.5·2^23) has the bit
pattern bits(1.5·2^23) + rint(x) (ties to even, exactly `np.rint`), so one
float add rounds and one int32 add (wrapping, i.e. exact mod 2^32)
accumulates; the N·bits(1.5·2^23) offset is subtracted at the end. Because
|Σ q_i| < 2^31 the wrapped int32 is the true sum. Resolution: the largest
term keeps 22 bits, which is float32 precision of the largest coordinate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .layout import Layout, Rows, split_evenly

TERM_BITS = 22
TOTAL_BITS = 30
MAX_EXPONENT = 100  # keeps fl32(a·2^G) finite for absurdly small updates
MAGIC = np.float32(1.5 * 2**23)
MAGIC_BITS = int(np.array(MAGIC).view(np.int32))
SUM_CHUNK = 1 << 16  # coordinates per piece; any value gives the same result


def ceil_log2(x: float) -> int:
    """Smallest e with x < 2^e (x > 0), computed exactly from the float."""
    return math.frexp(x)[1]  # x = m·2^e with 0.5 ≤ m < 1


def sum_exponent(bounds: Sequence[float]) -> int:
    """Grid exponent G for terms whose absolute values are bounded by `bounds`."""
    live = [b for b in bounds if b > 0]
    if not live:
        return 0
    biggest = max(live)
    total = math.fsum(live)
    exponent = min(TERM_BITS - ceil_log2(biggest), TOTAL_BITS - ceil_log2(total)) - 1
    return min(exponent, MAX_EXPONENT)


def _wrap_int32(value: int) -> np.int32:
    value &= 0xFFFFFFFF
    return np.int32(value - (1 << 32) if value >= 1 << 31 else value)


def weighted_sum(
    layout: Layout,
    rows: Sequence[Rows],
    coeffs: Sequence[float],
    maxabs: Sequence[float],
    *,
    workers: int = 1,
    chunk: int = SUM_CHUNK,
) -> list[np.ndarray]:
    """Σ coeffs[i]·rows[i] per tensor, as float64 arrays, exactly on one 2^-G grid.

    `maxabs[i]` must bound |rows[i]| (from the pre-filter's statistics).
    Updates with a zero coefficient are skipped.
    """
    terms = [(row, float(c)) for row, c in zip(rows, coeffs, strict=True) if c != 0.0]
    bounds = [abs(float(c)) * float(m) for c, m in zip(coeffs, maxabs, strict=True) if c != 0.0]
    grid = sum_exponent(bounds)
    if terms:  # keep every fl32(a_i·2^G) finite even for huge coefficients
        grid = min(grid, 120 - ceil_log2(max(abs(c) for _, c in terms)))
    scales = [np.float32(math.ldexp(c, grid)) for _, c in terms]
    offset = _wrap_int32(len(terms) * MAGIC_BITS)
    out = [np.zeros(size, dtype=np.float64) for size in layout.sizes]

    def run(pieces: list[tuple[int, int, int]]) -> None:
        scratch = np.empty(chunk, dtype=np.float32)
        acc = np.empty(chunk, dtype=np.int32)
        for tensor, start, stop in pieces:
            n = stop - start
            tmp, total = scratch[:n], acc[:n]
            total.fill(0)
            for (row, _), scale in zip(terms, scales, strict=True):
                np.multiply(row[tensor][start:stop], scale, out=tmp)
                np.add(tmp, MAGIC, out=tmp)
                np.add(total, tmp.view(np.int32), out=total)
            np.subtract(total, offset, out=total)
            np.ldexp(total, -grid, out=out[tensor][start:stop], dtype=np.float64)

    if terms:
        pieces = list(layout.segments(chunk))
        if workers > 1 and len(pieces) > 1:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(run, split_evenly(pieces, workers)))
        else:
            run(pieces)
    return out


def grid_exponent(maxabs: float, bits: int) -> int:
    """Exponent e with maxabs·2^e < 2^bits (0 for an all-zero row)."""
    if maxabs <= 0:
        return 0
    return min(bits - ceil_log2(maxabs), MAX_EXPONENT)
