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

`coarse_gram` (Multi-Krum's distances) is the same idea at 8 bits, run on
float32 BLAS, which is several times faster: each update is put on its own
power-of-two grid with largest value below 2^7 (`COARSE_BITS`), so every
integer is at most 128 in magnitude and every product at most 2^14. The
coordinates are cut into groups of `COARSE_GROUP` = 1024 (zero-padded), and
each group's Gram matrix is one float32 matrix product: any partial sum of
at most 1024 such products is an integer of magnitude ≤ 2^24, exactly
representable in float32, so again the BLAS order, blocking, FMA use and
thread count cannot change the result. Group results are added in float64
(integers far below 2^53: exact). The result is the exact Gram matrix of the
8-bit-rounded updates; distances between honest updates are dominated by
their real differences, not by the ~2^-8 relative rounding.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import threadpool_limits

from .fixedpoint import grid_exponent
from .layout import Layout, Rows, split_evenly

GRAM_BITS = 15
BLOCK_ELEMENTS = 1 << 20  # rows × coordinates gathered per piece
COARSE_BITS = 7
COARSE_GROUP = 1 << 10  # 1024 products ≤ 2^14 each: every float32 partial sum exact


def _piece_width(count: int) -> int:
    width = 1 << max(10, (BLOCK_ELEMENTS // max(count, 1)).bit_length() - 1)
    return min(width, 1 << 22)  # 2^30 per product × 2^22 terms < 2^53: exact


def _quantized_sums(
    layout: Layout,
    rows: Sequence[Rows],
    exponents: Sequence[int],
    reduce: Callable[[np.ndarray], np.ndarray],
    workers: int,
) -> np.ndarray:
    """Σ over coordinate pieces of `reduce(block)`, block = float64 (len(rows), width)
    of integer-valued coordinates; `reduce` must return integer-valued float64
    below 2^53, so the int64 total is the same for any split over `workers`."""
    count = len(rows)
    width = _piece_width(count)
    scales = [np.float32(math.ldexp(1.0, e)) for e in exponents]

    def run(pieces: list[tuple[int, int, int]]) -> np.ndarray | None:
        total = None
        block = np.empty((count, width), dtype=np.float32)
        for tensor, start, stop in pieces:
            view = block[:, : stop - start]
            for i, row in enumerate(rows):
                np.multiply(row[tensor][start:stop], scales[i], out=view[i])
            np.rint(view, out=view)
            part = reduce(view.astype(np.float64)).astype(np.int64)
            total = part if total is None else total + part
        return total

    pieces = list(layout.segments(width))
    with threadpool_limits(1, user_api="blas"):  # see coarse_gram
        if workers > 1 and len(pieces) > 1:
            with ThreadPoolExecutor(workers) as pool:
                parts = list(pool.map(run, split_evenly(pieces, workers)))
        else:
            parts = [run(pieces)]
    parts = [p for p in parts if p is not None]
    if not parts:
        return reduce(np.zeros((count, 0))).astype(np.int64)
    return sum(parts[1:], parts[0])  # int64: exact in any order


def _rescale(exact: np.ndarray, left: Sequence[int], right: Sequence[int]) -> np.ndarray:
    scale = -(np.asarray(left, dtype=np.int64)[:, None] + np.asarray(right, dtype=np.int64))
    return np.ldexp(exact.astype(np.float64), scale.astype(np.int32))


def gram(
    layout: Layout, rows: Sequence[Rows], maxabs: Sequence[float], workers: int = 1
) -> np.ndarray:
    """Matrix of dot products <rows[i], rows[j]> (float64, deterministic)."""
    exponents = [grid_exponent(m, GRAM_BITS) for m in maxabs]
    exact = _quantized_sums(layout, rows, exponents, lambda b: b @ b.T, workers)
    return _rescale(exact, exponents, exponents)


def dots_with(
    layout: Layout,
    rows: Sequence[Rows],
    maxabs: Sequence[float],
    target: Rows,
    target_maxabs: float,
    workers: int = 1,
) -> tuple[np.ndarray, np.ndarray, float]:
    """(<rows[i], target>, |rows[i]|², |target|²), all on the same exact grids."""
    exponents = [grid_exponent(m, GRAM_BITS) for m in maxabs]
    target_exponent = grid_exponent(target_maxabs, GRAM_BITS)
    count = len(rows)
    all_exponents = [*exponents, target_exponent]

    def reduce(block: np.ndarray) -> np.ndarray:
        out = np.empty(2 * count + 1)
        out[:count] = block[:count] @ block[count]
        out[count:] = np.einsum("ij,ij->i", block, block)
        return out

    exact = _quantized_sums(layout, [*rows, target], all_exponents, reduce, workers)
    dots, squares = exact[:count], exact[count:]
    dot_values = _rescale(dots[:, None], exponents, [target_exponent])[:, 0]
    square_values = _rescale(squares[:, None], all_exponents, [0])[:, 0]
    square_values = np.ldexp(square_values, -np.asarray(all_exponents, dtype=np.int32))
    return dot_values, square_values[:count], float(square_values[count])


def coarse_gram(
    layout: Layout, rows: Sequence[Rows], maxabs: Sequence[float], workers: int = 1
) -> np.ndarray:
    """Exact Gram matrix of the 8-bit-rounded rows (float64; see module docstring)."""
    count = len(rows)
    exponents = [grid_exponent(m, COARSE_BITS) for m in maxabs]
    scales = np.array([math.ldexp(1.0, e) for e in exponents], dtype=np.float32)
    groups = max(1, (BLOCK_ELEMENTS // max(count, 1)) // COARSE_GROUP)
    width = groups * COARSE_GROUP

    def run(pieces: list[tuple[int, int, int]]) -> np.ndarray:
        total = np.zeros((count, count), dtype=np.float64)
        block = np.empty((count, width), dtype=np.float32)
        for tensor, start, stop in pieces:
            used = -(-(stop - start) // COARSE_GROUP) * COARSE_GROUP
            view = block[:, :used]
            view[:, stop - start :] = 0.0
            for i, row in enumerate(rows):
                np.multiply(row[tensor][start:stop], scales[i], out=view[i, : stop - start])
            np.rint(view, out=view)
            stacked = view.reshape(count, used // COARSE_GROUP, COARSE_GROUP).transpose(1, 0, 2)
            products = np.matmul(stacked, stacked.transpose(0, 2, 1))
            total += np.add.reduce(products, axis=0, dtype=np.float64)
        return total

    pieces = list(layout.segments(width))
    # Our own threads, one BLAS thread each: the products are small, and BLAS
    # threads spinning on a shared machine cost more than they save.
    with threadpool_limits(1, user_api="blas"):
        if workers > 1 and len(pieces) > 1:
            with ThreadPoolExecutor(workers) as pool:
                parts = list(pool.map(run, split_evenly(pieces, workers)))
        else:
            parts = [run(pieces)]
    exact = np.zeros((count, count), dtype=np.float64)
    for part in parts:
        exact += part  # integers below 2^53: exact in any order
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
    workers: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(<rows[i], others[j]> as an (N, P) matrix, |rows[i]|², |others[j]|²), exact on
    the fine grids like `gram` (so the same for any worker count)."""
    count, extra = len(rows), len(others)
    all_rows = [*rows, *others]
    exponents = [grid_exponent(m, GRAM_BITS) for m in [*maxabs, *others_maxabs]]

    def reduce(block: np.ndarray) -> np.ndarray:
        out = np.empty(count * extra + count + extra)
        out[: count * extra] = (block[:count] @ block[count:].T).reshape(-1)
        out[count * extra :] = np.einsum("ij,ij->i", block, block)
        return out

    exact = _quantized_sums(layout, all_rows, exponents, reduce, workers)
    dots = _rescale(
        exact[: count * extra].reshape(count, extra), exponents[:count], exponents[count:]
    )
    squares = np.ldexp(
        exact[count * extra :].astype(np.float64), -2 * np.asarray(exponents, dtype=np.int32)
    )
    return dots, squares[:count], squares[count:]
