"""The kernels compiled with numba: one read of each chunk, no temporaries.

Each function handles one *piece*: coordinates [start, stop) of one tensor
(`rows` holds that tensor of every update, as 1-D float32 arrays in a numba
typed list). `reference.py` holds the numpy twin of every function; both must
give the same bits, which is what makes the compiled path optional (see
`kernels/__init__.py` and tests/aggregation/test_kernels.py).

Why the results do not depend on how the compiler schedules them:
- element-wise IEEE operations (a product, rint, a cast, a division) are
  correctly rounded, and no two are fused (no `fastmath` where a rounding
  happens);
- the only float *reductions* are either sums of exact integers that stay
  below 2^24 (float32) or 2^53 (float64) — exact in any order, so those
  loops may use `fastmath` (reassociation) to vectorize — or the norm's lane
  sums, written in a fixed order that LLVM keeps (no reassociation allowed);
- max |x| is an integer max of the bit patterns.
"""

from __future__ import annotations

import numpy as np
from numba import njit

EXACT = {"reassoc", "contract", "nsz"}  # only on loops whose every partial sum is an exact integer
NORM_LANES = 64
ABS_MASK = np.uint32(0x7FFFFFFF)
COARSE_BLOCK = 1024  # products ≤ 2^14: any partial sum of ≤ 1024 of them is exact in float32


@njit(nogil=True, cache=True, boundscheck=False)
def _add_squares(x, start, stop, lanes):
    """lanes[j] += float64(x)² for the coordinates of x[start:stop] ≡ j (mod
    NORM_LANES) counted from `start`, in increasing order (start is where the
    piece begins, or a multiple of NORM_LANES after it)."""
    n = stop - start
    full = n - n % NORM_LANES
    for k0 in range(0, full, NORM_LANES):
        sub = x[start + k0 : start + k0 + NORM_LANES]
        for j in range(NORM_LANES):
            v = np.float64(sub[j])
            lanes[j] += v * v
    for k in range(full, n):
        v = np.float64(x[start + k])
        lanes[k - full] += v * v


@njit(nogil=True, cache=True, boundscheck=False)
def _fold(lanes):
    """Σ of the lanes, folded pairwise: lane j += lane j + h for h = 32, 16, …, 1."""
    h = NORM_LANES
    while h > 1:
        h //= 2
        for j in range(h):
            lanes[j] += lanes[j + h]
    return lanes[0]


@njit(nogil=True, cache=True, boundscheck=False)
def _max_bits(x, start, stop):
    """max |x| over x[start:stop] as a float32 bit pattern (≥ 0x7F800000: not finite)."""
    bits = x[start:stop].view(np.uint32)
    m = np.uint32(0)
    for k in range(bits.size):
        m = max(m, bits[k] & ABS_MASK)
    return m


@njit(nogil=True, cache=True, boundscheck=False)
def _add_terms(x, start, stop, scale, acc):
    """acc[k] += rint(float64(x[start + k]) · scale): integers, added exactly."""
    n = stop - start
    sub = x[start:stop]
    for k in range(n):
        acc[k] += np.rint(np.float64(sub[k]) * scale)


@njit(nogil=True, cache=True, boundscheck=False)
def _add_squares_and_terms(x, start, stop, lanes, scale, acc):
    """`_add_squares` and `_add_terms` in one loop over x[start:stop]."""
    n = stop - start
    full = n - n % NORM_LANES
    for k0 in range(0, full, NORM_LANES):
        sub = x[start + k0 : start + k0 + NORM_LANES]
        out = acc[k0 : k0 + NORM_LANES]
        for j in range(NORM_LANES):
            v = np.float64(sub[j])
            lanes[j] += v * v
            out[j] += np.rint(v * scale)
    for k in range(full, n):
        v = np.float64(x[start + k])
        lanes[k - full] += v * v
        acc[k] += np.rint(v * scale)


@njit(nogil=True, cache=True, boundscheck=False)
def scan_piece(rows, start, stop, scales, limit_bits, accumulate, acc, lanes, max_bits, sumsq, col):
    """Statistics of every row's piece, and optionally the fixed-point sum, in one read.

    max_bits[i, col] ← max |x| bits; sumsq[i, col] ← the piece's lane sum of
    squares (0 if not finite). If `accumulate`: acc[:n] ← Σ_i rint(x_i ·
    scales[i]) over the rows with a non-zero scale whose piece is finite with
    max bits ≤ `limit_bits` (a piece above it belongs to a row that is slashed,
    so the caller never uses that sum). Each row's piece is read from memory
    once (max |x|), then from cache once (squares and terms together).
    """
    n = stop - start
    if accumulate:
        acc[:n] = 0.0
    for i in range(len(rows)):
        x = rows[i]
        m = _max_bits(x, start, stop)
        max_bits[i, col] = m
        if m >= np.uint32(0x7F800000):
            sumsq[i, col] = 0.0
            continue
        row_lanes = lanes[i]
        row_lanes[:] = 0.0
        if accumulate and scales[i] != 0.0 and m <= limit_bits:
            _add_squares_and_terms(x, start, stop, row_lanes, scales[i], acc)
        else:
            _add_squares(x, start, stop, row_lanes)
        sumsq[i, col] = _fold(row_lanes)


@njit(nogil=True, cache=True, boundscheck=False)
def _add_terms4(x0, x1, x2, x3, start, stop, s0, s1, s2, s3, acc):
    """acc[k] += the four rows' terms (an exact integer sum in any grouping)."""
    n = stop - start
    a = x0[start:stop]
    b = x1[start:stop]
    c = x2[start:stop]
    d = x3[start:stop]
    for k in range(n):
        acc[k] += (np.rint(np.float64(a[k]) * s0) + np.rint(np.float64(b[k]) * s1)) + (
            np.rint(np.float64(c[k]) * s2) + np.rint(np.float64(d[k]) * s3)
        )


@njit(nogil=True, cache=True, boundscheck=False)
def sum_piece(rows, start, stop, scales, acc):
    """acc[:n] ← Σ_i rint(x_i · scales[i]) (every row's scale non-zero), four rows per
    walk over acc so that its traffic does not dominate."""
    n = stop - start
    acc[:n] = 0.0
    count = len(rows)
    full = count - count % 4
    for i in range(0, full, 4):
        _add_terms4(
            rows[i],
            rows[i + 1],
            rows[i + 2],
            rows[i + 3],
            start,
            stop,
            scales[i],
            scales[i + 1],
            scales[i + 2],
            scales[i + 3],
            acc,
        )
    for i in range(full, count):
        _add_terms(rows[i], start, stop, scales[i], acc)


@njit(nogil=True, cache=True, boundscheck=False)
def model_piece(base, start, stop, acc, unit, out):
    """out[k] ← float32(float64(base[start + k]) + acc[k] · unit) (unit = 2^-G, exact)."""
    n = stop - start
    sub = base[start:stop]
    for k in range(n):
        out[k] = np.float32(np.float64(sub[k]) + acc[k] * unit)


@njit(nogil=True, cache=True, boundscheck=False)
def quantize_piece(rows, start, stop, scales, block):
    """block[i, :n] ← rint(x_i · scales[i]) in float32 (scales are powers of two)."""
    n = stop - start
    for i in range(len(rows)):
        sub = rows[i][start:stop]
        row = block[i]
        s = scales[i]
        for k in range(n):
            row[k] = np.rint(sub[k] * s)


@njit(nogil=True, cache=True, boundscheck=False, fastmath=EXACT)
def _coarse_tile(block, i, j, k0, k1, out):
    a0 = block[i, k0:k1]
    a1 = block[i + 1, k0:k1]
    a2 = block[i + 2, k0:k1]
    a3 = block[i + 3, k0:k1]
    b0 = block[j, k0:k1]
    b1 = block[j + 1, k0:k1]
    b2 = block[j + 2, k0:k1]
    b3 = block[j + 3, k0:k1]
    s00 = s01 = s02 = s03 = np.float32(0.0)
    s10 = s11 = s12 = s13 = np.float32(0.0)
    s20 = s21 = s22 = s23 = np.float32(0.0)
    s30 = s31 = s32 = s33 = np.float32(0.0)
    for k in range(k1 - k0):
        x0, x1, x2, x3 = a0[k], a1[k], a2[k], a3[k]
        y0, y1, y2, y3 = b0[k], b1[k], b2[k], b3[k]
        s00 += x0 * y0
        s01 += x0 * y1
        s02 += x0 * y2
        s03 += x0 * y3
        s10 += x1 * y0
        s11 += x1 * y1
        s12 += x1 * y2
        s13 += x1 * y3
        s20 += x2 * y0
        s21 += x2 * y1
        s22 += x2 * y2
        s23 += x2 * y3
        s30 += x3 * y0
        s31 += x3 * y1
        s32 += x3 * y2
        s33 += x3 * y3
    out[i, j] += s00
    out[i, j + 1] += s01
    out[i, j + 2] += s02
    out[i, j + 3] += s03
    out[i + 1, j] += s10
    out[i + 1, j + 1] += s11
    out[i + 1, j + 2] += s12
    out[i + 1, j + 3] += s13
    out[i + 2, j] += s20
    out[i + 2, j + 1] += s21
    out[i + 2, j + 2] += s22
    out[i + 2, j + 3] += s23
    out[i + 3, j] += s30
    out[i + 3, j + 1] += s31
    out[i + 3, j + 2] += s32
    out[i + 3, j + 3] += s33


@njit(nogil=True, cache=True, boundscheck=False)
def coarse_gram_piece(block, count, n, out):
    """out[i, j] += Σ_k block[i, k]·block[j, k] for i ≤ j (4×4 tiles; rows ≥ count
    must be zero and out must have a multiple of 4 rows). Values are integers
    ≤ 2^7 in magnitude, so each 1024-coordinate float32 partial sum is exact."""
    padded = out.shape[0]
    for k0 in range(0, n, COARSE_BLOCK):
        k1 = min(n, k0 + COARSE_BLOCK)
        for i in range(0, padded, 4):
            for j in range(i, padded, 4):
                _coarse_tile(block, i, j, k0, k1, out)


@njit(nogil=True, cache=True, boundscheck=False, fastmath=EXACT)
def _fine_tile(block, i, j, left, n, out):
    a0 = block[i, :n]
    a1 = block[i + 1, :n]
    b0 = block[left + j, :n]
    b1 = block[left + j + 1, :n]
    b2 = block[left + j + 2, :n]
    b3 = block[left + j + 3, :n]
    s00 = s01 = s02 = s03 = 0.0
    s10 = s11 = s12 = s13 = 0.0
    for k in range(n):
        x0, x1 = np.float64(a0[k]), np.float64(a1[k])
        y0, y1, y2, y3 = np.float64(b0[k]), np.float64(b1[k]), np.float64(b2[k]), np.float64(b3[k])
        s00 += x0 * y0
        s01 += x0 * y1
        s02 += x0 * y2
        s03 += x0 * y3
        s10 += x1 * y0
        s11 += x1 * y1
        s12 += x1 * y2
        s13 += x1 * y3
    out[i, j] += np.int64(s00)
    out[i, j + 1] += np.int64(s01)
    out[i, j + 2] += np.int64(s02)
    out[i, j + 3] += np.int64(s03)
    out[i + 1, j] += np.int64(s10)
    out[i + 1, j + 1] += np.int64(s11)
    out[i + 1, j + 2] += np.int64(s12)
    out[i + 1, j + 3] += np.int64(s13)


@njit(nogil=True, cache=True, boundscheck=False)
def fine_products_piece(block, left, n, symmetric, out):
    """out[i, j] += Σ_k block[i, k]·block[left + j, k] as int64, for rows i < left
    and columns j (all of them, or j ≥ i when `symmetric`, where left = 0 and the
    right rows are the left rows). Values are integers ≤ 2^15: products ≤ 2^30,
    and a piece of ≤ 2^22 coordinates keeps every float64 partial sum exact.
    Row blocks are padded with zero rows (out has 2-row × 4-column tiles)."""
    rows, cols = out.shape
    for i in range(0, rows, 2):
        first = (i // 4) * 4 if symmetric else 0
        for j in range(first, cols, 4):
            _fine_tile(block, i, j, left, n, out)


@njit(nogil=True, cache=True, boundscheck=False)
def row_squares_piece(block, count, n, out):
    """out[i] += Σ_k block[i, k]² as int64 (integers ≤ 2^15, as in fine_products_piece)."""
    for i in range(count):
        out[i] += np.int64(_exact_dot(block[i], block[i], n))


@njit(nogil=True, cache=True, boundscheck=False)
def gather_piece(rows, start, stop, block):
    """block[i, :n] ← rows[i][start:stop]."""
    n = stop - start
    for i in range(len(rows)):
        block[i, :n] = rows[i][start:stop]


@njit(nogil=True, cache=True, boundscheck=False)
def network_sort(block, n, pairs):
    """Sort the first n columns of block (count rows) ascending with the comparator
    network `pairs` ((a, b) with a < b: rows a, b ← min, max element-wise)."""
    for c in range(pairs.shape[0]):
        ra = block[pairs[c, 0], :n]
        rb = block[pairs[c, 1], :n]
        for k in range(n):
            x = ra[k]
            y = rb[k]
            ra[k] = min(x, y)
            rb[k] = max(x, y)


@njit(nogil=True, cache=True, boundscheck=False)
def reduce_sorted_piece(sorted_block, count, n, cut, trim_scale, trim_unit, kept, median, out):
    """out[k] ← the robust aggregate of column k of the sorted block (float64).

    median: the middle value, or the mean of the two middle values (float64).
    Otherwise the trimmed mean: Σ of rint(v · trim_scale) (float32) over rows
    cut..count−cut−1, exact in float64, times trim_unit, divided by kept.
    Adding +0.0 makes every zero positive, so which of ±0 a sort put first
    cannot matter.
    """
    if median:
        h = count // 2
        if count % 2:
            for k in range(n):
                out[k] = np.float64(sorted_block[h, k]) + 0.0
        else:
            for k in range(n):
                out[k] = (np.float64(sorted_block[h - 1, k]) + np.float64(sorted_block[h, k])) * 0.5
                out[k] += 0.0
        return
    for k in range(n):
        out[k] = 0.0
    for r in range(cut, count - cut):
        row = sorted_block[r, :n]
        for k in range(n):
            out[k] += np.float64(np.rint(row[k] * trim_scale))
    for k in range(n):
        out[k] = (out[k] * trim_unit) / kept + 0.0


@njit(nogil=True, cache=True, boundscheck=False)
def agreement_piece(
    block, count, n, scales, aggregate, target_scale, base, start, qrow, qt, out_model, exact
):
    """Write the model piece and add the exact agreement products of this piece.

    out_model[k] ← float32(base[start + k] + aggregate[k]); the aggregate as
    float32, times target_scale, rinted → qt. Each (unsorted) row of block,
    times its scale, rinted → qrow; exact[i] += Σ qrow·qt, exact[count + i] +=
    Σ qrow², exact[2·count] += Σ qt² (integers < 2^15: exact float64 sums per
    piece of ≤ 2^22 coordinates, then int64).
    """
    sub = base[start : start + n]
    for k in range(n):
        out_model[k] = np.float32(np.float64(sub[k]) + aggregate[k])
        qt[k] = np.rint(np.float32(aggregate[k]) * target_scale)
    exact[2 * count] += np.int64(_exact_dot(qt, qt, n))
    for i in range(count):
        row = block[i, :n]
        s = scales[i]
        for k in range(n):
            qrow[k] = np.rint(row[k] * s)
        exact[i] += np.int64(_exact_dot(qrow, qt, n))
        exact[count + i] += np.int64(_exact_dot(qrow, qrow, n))


@njit(nogil=True, cache=True, boundscheck=False, fastmath=EXACT)
def _exact_dot(a, b, n):
    total = 0.0
    for k in range(n):
        total += np.float64(a[k]) * np.float64(b[k])
    return total
