"""Exact pairwise geometry (dot products, norms, distances) of many updates.

Multi-Krum needs all pairwise distances and cosine rules need dot products;
both are a Gram matrix. Each update is put on its own power-of-two grid
(largest value below 2^15, `GRAM_BITS`) and rounded to integers; a
coordinate piece of those integers is multiplied in float64 (compiled tiles,
or numpy's matmul in the fallback), which is exact because every partial sum
stays below 2^53 — so any order, tiling or thread split gives the same
result. Pieces are accumulated in int64 and scaled back by 2^-(e_i+e_j) at
the end (`passes.products`).

Rounding each update to 16 significant bits changes dot products by about
2^-16 relative, irrelevant for selection and trust, and in exchange the
geometry is bit-for-bit reproducible.

`coarse_gram` (Multi-Krum's distances) is the same idea at 8 bits, run in
float32, which is several times faster: each update is put on its own
power-of-two grid with largest value below 2^7 (`COARSE_BITS`), so every
integer is at most 128 in magnitude and every product at most 2^14. The
coordinates are cut into groups of 1024, and each group's products are
summed in float32 (vectorized 4×4 tiles): any partial sum of at most 1024
such products is an integer of magnitude ≤ 2^24, exactly representable in
float32, so the order, FMA use and thread count cannot change the result.
Group results are added in float64 (integers far below 2^53: exact). The
result is the exact Gram matrix of the 8-bit-rounded updates; distances
between honest updates are dominated by their real differences, not by the
~2^-8 relative rounding.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .executor import Executor, as_executor
from .fixedpoint import grid_exponent
from .layout import Layout, Rows
from .passes import products

GRAM_BITS = 15
COARSE_BITS = 7


def _rescale(exact: np.ndarray, left: Sequence[int], right: Sequence[int]) -> np.ndarray:
    scale = -(np.asarray(left, dtype=np.int64)[:, None] + np.asarray(right, dtype=np.int64))
    return np.ldexp(exact.astype(np.float64), scale.astype(np.int32))


def gram(
    layout: Layout, rows: Sequence[Rows], maxabs: Sequence[float], workers: int | Executor = 1
) -> np.ndarray:
    """Matrix of dot products <rows[i], rows[j]> (float64, deterministic)."""
    exponents = [grid_exponent(m, GRAM_BITS) for m in maxabs]
    exact, _ = products(as_executor(workers), layout, rows, exponents)
    return _rescale(exact, exponents, exponents)


def dots_with(
    layout: Layout,
    rows: Sequence[Rows],
    maxabs: Sequence[float],
    target: Rows,
    target_maxabs: float,
    workers: int | Executor = 1,
) -> tuple[np.ndarray, np.ndarray, float]:
    """(<rows[i], target>, |rows[i]|², |target|²), all on the same exact grids."""
    dots, squares, target_squares = cross_products(
        layout, rows, maxabs, [target], [target_maxabs], workers
    )
    return dots[:, 0], squares, float(target_squares[0])


def coarse_gram(
    layout: Layout, rows: Sequence[Rows], maxabs: Sequence[float], workers: int | Executor = 1
) -> np.ndarray:
    """Exact Gram matrix of the 8-bit-rounded rows (float64; see module docstring)."""
    exponents = [grid_exponent(m, COARSE_BITS) for m in maxabs]
    exact, _ = products(as_executor(workers), layout, rows, exponents, coarse=True)
    return _rescale(exact, exponents, exponents)


def pairwise_sq_distances(products: np.ndarray) -> np.ndarray:
    """|x_i − x_j|² from a Gram matrix, clipped at 0, exact zero on the diagonal."""
    norms = np.diag(products)
    distances = norms[:, None] + norms[None, :] - 2.0 * products
    np.maximum(distances, 0.0, out=distances)
    np.fill_diagonal(distances, 0.0)
    return distances


def cross_products(
    layout: Layout,
    rows: Sequence[Rows],
    maxabs: Sequence[float],
    others: Sequence[Rows],
    others_maxabs: Sequence[float],
    workers: int | Executor = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(<rows[i], others[j]> as an (N, P) matrix, |rows[i]|², |others[j]|²), exact on
    the fine grids like `gram` (so the same for any worker count)."""
    count = len(rows)
    if count == 0 or not others:
        empty = np.zeros(0)
        return np.zeros((count, len(others))), empty[:count], empty[: len(others)]
    exponents = [grid_exponent(m, GRAM_BITS) for m in [*maxabs, *others_maxabs]]
    exact, squares = products(as_executor(workers), layout, [*rows, *others], exponents, left=count)
    assert squares is not None
    dots = _rescale(exact, exponents[:count], exponents[count:])
    values = np.ldexp(squares.astype(np.float64), -2 * np.asarray(exponents, dtype=np.int32))
    return dots, values[:count], values[count:]
