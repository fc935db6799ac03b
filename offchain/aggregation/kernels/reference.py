"""The numpy twin of every compiled kernel: same signatures, same bits.

Used when numba is not installed (or FEDSTAKE_KERNELS=numpy): several times
slower, never different. Every function mirrors its namesake in
`compiled.py`; read that module's docstring for why the bits agree.
"""

from __future__ import annotations

import numpy as np

NORM_LANES = 64
ABS_MASK = np.uint32(0x7FFFFFFF)
NOT_FINITE = 0x7F800000


def _lane_norm(x: np.ndarray, start: int, stop: int) -> float:
    squares = np.square(x[start:stop], dtype=np.float64)
    full = squares.size - squares.size % NORM_LANES
    lanes = np.zeros(NORM_LANES)
    # A reduction over axis 0 of a C-ordered 2-D array adds the rows one after
    # the other: lane j sums coordinates ≡ j (mod 64) in increasing order.
    if full:
        lanes += np.add.reduce(squares[:full].reshape(-1, NORM_LANES), axis=0)
    lanes[: squares.size - full] += squares[full:]
    h = NORM_LANES
    while h > 1:
        h //= 2
        lanes[:h] += lanes[h : 2 * h]
    return float(lanes[0])


def _max_bits(x: np.ndarray, start: int, stop: int) -> int:
    if stop <= start:
        return 0
    return int(np.bitwise_and(x[start:stop].view(np.uint32), ABS_MASK).max())


def scan_piece(rows, start, stop, scales, limit_bits, accumulate, acc, lanes, max_bits, sumsq, col):
    n = stop - start
    if accumulate:
        acc[:n] = 0.0
    for i, x in enumerate(rows):
        m = _max_bits(x, start, stop)
        max_bits[i, col] = m
        if m >= NOT_FINITE:
            sumsq[i, col] = 0.0
            continue
        sumsq[i, col] = _lane_norm(x, start, stop)
        if accumulate and scales[i] != 0.0 and m <= limit_bits:
            acc[:n] += np.rint(x[start:stop].astype(np.float64) * scales[i])


def sum_piece(rows, start, stop, scales, acc):
    n = stop - start
    acc[:n] = 0.0
    for i, x in enumerate(rows):
        if scales[i] != 0.0:
            acc[:n] += np.rint(x[start:stop].astype(np.float64) * scales[i])


def model_piece(base, start, stop, acc, unit, out):
    n = stop - start
    out[:n] = (base[start:stop].astype(np.float64) + acc[:n] * unit).astype(np.float32)


def quantize_piece(rows, start, stop, scales, block):
    n = stop - start
    for i, x in enumerate(rows):
        np.multiply(x[start:stop], scales[i], out=block[i, :n])
        np.rint(block[i, :n], out=block[i, :n])


def coarse_gram_piece(block, count, n, out):
    # Integers ≤ 2^7: float64 products and sums are exact at any length used here.
    wide = block[:count, :n].astype(np.float64)
    out[:count, :count] += np.triu(wide @ wide.T)


def fine_products_piece(block, left, n, symmetric, out):
    rows, cols = out.shape
    wide = block[: max(rows, left + cols), :n].astype(np.float64)
    products = wide[:rows] @ wide[left : left + cols].T  # integers < 2^53: exact in any order
    if symmetric:
        products = np.triu(products)
    out += products.astype(np.int64)


def row_squares_piece(block, count, n, out):
    wide = block[:count, :n].astype(np.float64)
    out[:count] += np.einsum("ij,ij->i", wide, wide).astype(np.int64)


def gather_piece(rows, start, stop, block):
    n = stop - start
    for i, x in enumerate(rows):
        block[i, :n] = x[start:stop]


def network_sort(block, n, pairs):
    # Any correct sort gives the same values; which of ±0 comes first is
    # made irrelevant by reduce_sorted_piece.
    count = int(pairs.max()) + 1 if pairs.size else 1
    block[:count, :n] = np.sort(block[:count, :n], axis=0)


def reduce_sorted_piece(sorted_block, count, n, cut, trim_scale, trim_unit, kept, median, out):
    if median:
        h = count // 2
        upper = sorted_block[h, :n].astype(np.float64)
        if count % 2:
            out[:n] = upper + 0.0
        else:
            out[:n] = (sorted_block[h - 1, :n].astype(np.float64) + upper) * 0.5 + 0.0
        return
    middle = sorted_block[cut : count - cut, :n] * trim_scale
    np.rint(middle, out=middle)
    total = np.add.reduce(middle, axis=0, dtype=np.float64)  # integers: exact in any order
    out[:n] = (total * trim_unit) / kept + 0.0


def agreement_piece(
    block, count, n, scales, aggregate, target_scale, base, start, qrow, qt, out_model, exact
):
    out_model[:n] = (base[start : start + n].astype(np.float64) + aggregate[:n]).astype(np.float32)
    target = aggregate[:n].astype(np.float32) * target_scale
    np.rint(target, out=target)
    wide_target = target.astype(np.float64)
    exact[2 * count] += np.int64(wide_target @ wide_target)
    quantized = block[:count, :n] * scales[:count, None]
    np.rint(quantized, out=quantized)
    wide = quantized.astype(np.float64)
    exact[:count] += (wide @ wide_target).astype(np.int64)
    exact[count : 2 * count] += np.einsum("ij,ij->i", wide, wide).astype(np.int64)
