"""Exact pairwise geometry (dot products, norms, distances) of many updates.

Multi-Krum needs all pairwise distances and cosine rules need dot products;
both are a Gram matrix. Each update is put on its own power-of-two grid
(largest value below 2^15, `GRAM_BITS`) and rounded to integers; a
coordinate piece of those integers is multiplied as float64 matrices
(B @ B.T), which is exact because every partial sum stays below 2^53 — so the
BLAS may sum in any order or thread split and the result is the same. Pieces
are accumulated in int64 and scaled back by 2^-(e_i+e_j) at the end.

Rounding each update to 16 significant bits changes dot products by about
2^-16 relative, irrelevant for selection and trust, and in exchange the
geometry is bit-for-bit reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .fixedpoint import grid_exponent
from .layout import Layout, Rows

GRAM_BITS = 15
BLOCK_ELEMENTS = 1 << 20  # rows × coordinates gathered per piece


def _piece_width(count: int) -> int:
    width = 1 << max(10, (BLOCK_ELEMENTS // max(count, 1)).bit_length() - 1)
    return min(width, 1 << 22)  # 2^30 per product × 2^22 terms < 2^53: exact


def _quantized_pieces(layout: Layout, rows: Sequence[Rows], exponents: Sequence[int]):
    """Yield float64 blocks (len(rows), width) of integer-valued coordinates."""
    count = len(rows)
    width = _piece_width(count)
    block = np.empty((count, width), dtype=np.float32)
    scales = np.array([math.ldexp(1.0, e) for e in exponents], dtype=np.float32)[:, None]
    for tensor, start, stop in layout.segments(width):
        view = block[:, : stop - start]
        for i, row in enumerate(rows):
            view[i] = row[tensor][start:stop]
        np.multiply(view, scales, out=view)
        np.rint(view, out=view)
        yield view.astype(np.float64)


def _rescale(exact: np.ndarray, left: Sequence[int], right: Sequence[int]) -> np.ndarray:
    scale = -(np.asarray(left, dtype=np.int64)[:, None] + np.asarray(right, dtype=np.int64))
    return np.ldexp(exact.astype(np.float64), scale.astype(np.int32))


def gram(layout: Layout, rows: Sequence[Rows], maxabs: Sequence[float]) -> np.ndarray:
    """Matrix of dot products <rows[i], rows[j]> (float64, deterministic)."""
    exponents = [grid_exponent(m, GRAM_BITS) for m in maxabs]
    exact = np.zeros((len(rows), len(rows)), dtype=np.int64)
    for block in _quantized_pieces(layout, rows, exponents):
        exact += (block @ block.T).astype(np.int64)
    return _rescale(exact, exponents, exponents)


def dots_with(
    layout: Layout,
    rows: Sequence[Rows],
    maxabs: Sequence[float],
    target: Rows,
    target_maxabs: float,
) -> tuple[np.ndarray, np.ndarray, float]:
    """(<rows[i], target>, |rows[i]|², |target|²), all on the same exact grids."""
    exponents = [grid_exponent(m, GRAM_BITS) for m in maxabs]
    target_exponent = grid_exponent(target_maxabs, GRAM_BITS)
    count = len(rows)
    dots = np.zeros(count, dtype=np.int64)
    squares = np.zeros(count + 1, dtype=np.int64)
    for block in _quantized_pieces(layout, [*rows, target], [*exponents, target_exponent]):
        dots += (block[:count] @ block[count]).astype(np.int64)
        squares += np.einsum("ij,ij->i", block, block).astype(np.int64)
    all_exponents = [*exponents, target_exponent]
    dot_values = _rescale(dots[:, None], exponents, [target_exponent])[:, 0]
    square_values = _rescale(squares[:, None], all_exponents, [0])[:, 0]
    square_values = np.ldexp(square_values, -np.asarray(all_exponents, dtype=np.int32))
    return dot_values, square_values[:count], float(square_values[count])


def pairwise_sq_distances(products: np.ndarray) -> np.ndarray:
    """|x_i − x_j|² from a Gram matrix, clipped at 0, exact zero on the diagonal."""
    norms = np.diag(products)
    distances = norms[:, None] + norms[None, :] - 2.0 * products
    np.maximum(distances, 0.0, out=distances)
    np.fill_diagonal(distances, 0.0)
    return distances
