"""The passes over the updates that every rule is built from.

A pass walks the model's coordinates in pieces (never across a tensor
boundary), reads one piece of every update, and calls a kernel (`kernels`)
on it. The pieces are cut into contiguous parts, one task per part, run by an
`executor` (threads here, or Ray workers); each task returns partial results
that are combined exactly (integer sums) or in piece order, so nothing
depends on the executor, the number of parts or the input order. Memory-mapped
updates (`mapped`) give their pages back after each piece.

- `scan`: per update, finite?, max |x| and the norm — and, when the caller
  already knows the coefficients (a declared norm bound fixes the grid before
  the data is read, see `fixedpoint.SumPlan`), the weighted sum and the new
  model in the same read.
- `weighted`: the fixed-point weighted sum, as a new model (base + sum,
  float32) or as a float64 delta.
- `products`: exact integer dot products on per-update power-of-two grids
  (a Gram matrix, coarse or fine, or the products of two sets of updates).
- `coordinatewise`: sorted columns reduced to a median or trimmed mean, the
  model, and the exact products of each update with the aggregate.

Norm (part of the method, so it is written down exactly): for each tensor and
each piece of `SCAN_CHUNK` coordinates, the float64 squares (exact) are summed
in `kernels.compiled.NORM_LANES` = 64 lanes (lane j: the coordinates ≡ j mod 64,
in order), the lanes fold pairwise (lane j += lane j + h for h = 32, 16, …, 1);
the norm is the square root of the correctly rounded sum (`math.fsum`) of all
pieces' values. Any other float64 summation differs from it by ~1e-13
relative at most, far below the norm bound's 1e-6 margin.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from . import kernels
from .executor import Executor, Job, Part, split_parts
from .layout import Layout, Rows
from .mapped import Pieces

if TYPE_CHECKING:
    from .fixedpoint import SumPlan

SCAN_CHUNK = 1 << 14  # the norm's piece: part of its definition
SUM_CHUNK = 1 << 14  # any value gives the same sums
GRAM_ELEMENTS = 1 << 18  # rows × coordinates of one quantized block (≈ 1 MB)
COORD_ELEMENTS = 1 << 17  # rows × coordinates of one sorted block (≈ 512 KB)
NETWORK_MAX = 128  # sorting networks up to this many updates, numpy's sort above
NOT_FINITE_BITS = 0x7F800000


@dataclass(frozen=True)
class UpdateStats:
    """What `scan` learns about one update: all values finite?, max |x|, L2 norm."""

    finite: bool
    maxabs: float
    norm: float


def _pieces(layout: Layout, chunk: int) -> list[tuple[int, int, int, int]]:
    return [(t, s, e, i) for i, (t, s, e) in enumerate(layout.segments(chunk))]


def _model_target(job: Job, tensor: int, start: int, stop: int, dtype: type = np.float32):
    """Where a task writes coordinates [start, stop) of a tensor: the shared output
    (threads) or a new slice it returns (other processes)."""
    if job.out is not None:
        return job.out[tensor][start:stop]
    return np.empty(stop - start, dtype=dtype)


def _place(out: list[np.ndarray], part: Part, slices: list[np.ndarray] | None) -> None:
    if slices is None:
        return
    for (tensor, start, stop, _), piece in zip(part, slices, strict=True):
        out[tensor][start:stop] = piece


# ---------------------------------------------------------------- scan


@dataclass(frozen=True, kw_only=True)
class _ScanJob(Job):
    plan: SumPlan | None = None


def _scan_task(part: Part, job: _ScanJob):
    kernel = kernels.active()
    count = len(job.rows)
    max_bits = np.zeros((count, len(part)), dtype=np.uint32)
    sumsq = np.zeros((count, len(part)), dtype=np.float64)
    plan = job.plan
    accumulate = plan is not None
    scales = plan.scales if plan is not None else np.zeros(count)
    limit = np.uint32(plan.limit_bits if plan is not None else NOT_FINITE_BITS)
    unit = plan.unit if plan is not None else 1.0
    acc = np.empty(SCAN_CHUNK)
    lanes = np.empty((count, 64))
    slices: list[np.ndarray] | None = [] if accumulate and job.out is None else None
    with Pieces(job.rows, SCAN_CHUNK, kernels.row_list) as pieces:
        for column, (tensor, start, stop, _) in enumerate(part):
            rows, first, last = pieces.get(tensor, start, stop)
            kernel.scan_piece(
                rows, first, last, scales, limit, accumulate, acc, lanes, max_bits, sumsq, column
            )
            if accumulate:
                assert job.base is not None
                target = _model_target(job, tensor, start, stop)
                kernel.model_piece(job.base[tensor], start, stop, acc, unit, target)
                if slices is not None:
                    slices.append(target)
    return [p[3] for p in part], max_bits, sumsq, slices


def scan(
    executor: Executor,
    layout: Layout,
    rows: Sequence[Rows],
    *,
    plan: SumPlan | None = None,
    base: Rows | None = None,
    out: list[np.ndarray] | None = None,
) -> list[UpdateStats]:
    """Statistics of every update in one read; with a `plan`, also write
    base + Σ plan's terms into `out` (float32 per tensor) in that same read."""
    if not rows:
        return []
    if plan is not None and (base is None or out is None):
        raise ValueError("a speculative sum needs the base and the output arrays")
    pieces = _pieces(layout, SCAN_CHUNK)
    job = _ScanJob(rows=rows, base=base, out=out if executor.shares_memory else None, plan=plan)
    parts = split_parts(pieces, executor.parallelism)
    max_bits = np.zeros((len(rows), len(pieces)), dtype=np.uint32)
    sumsq = np.zeros((len(rows), len(pieces)), dtype=np.float64)
    for part, (columns, bits, squares, slices) in zip(
        parts, executor.map(_scan_task, parts, job), strict=True
    ):
        max_bits[:, columns] = bits
        sumsq[:, columns] = squares
        if out is not None:
            _place(out, part, slices)
    stats = []
    for i in range(len(rows)):
        top = int(max_bits[i].max()) if pieces else 0
        if top >= NOT_FINITE_BITS:
            stats.append(UpdateStats(False, math.inf, math.inf))
            continue
        maxabs = float(np.array(top, dtype=np.uint32).view(np.float32))
        stats.append(UpdateStats(True, maxabs, math.sqrt(math.fsum(sumsq[i].tolist()))))
    return stats


# ---------------------------------------------------------------- weighted sums


@dataclass(frozen=True, kw_only=True)
class _SumJob(Job):
    plan: SumPlan
    out_dtype: type = np.float32


def _sum_task(part: Part, job: _SumJob):
    kernel = kernels.active()
    width = max((stop - start for _, start, stop, _ in part), default=0)
    acc = np.empty(width)
    slices: list[np.ndarray] | None = [] if job.out is None else None
    with Pieces(job.rows, width, kernels.row_list) as pieces:
        for tensor, start, stop, _ in part:
            rows, first, last = pieces.get(tensor, start, stop)
            kernel.sum_piece(rows, first, last, job.plan.scales, acc)
            target = _model_target(job, tensor, start, stop, job.out_dtype)
            if job.base is not None:
                kernel.model_piece(job.base[tensor], start, stop, acc, job.plan.unit, target)
            else:
                np.multiply(acc[: stop - start], job.plan.unit, out=target)  # exact: 2^-G
            if slices is not None:
                slices.append(target)
    return slices


def weighted(
    executor: Executor,
    layout: Layout,
    rows: Sequence[Rows],
    plan: SumPlan,
    *,
    base: Rows | None,
    out: list[np.ndarray],
    chunk: int = SUM_CHUNK,
) -> list[np.ndarray]:
    """Σ rint(x_i·plan.scales[i])·plan.unit per coordinate: into `out` as base + sum
    (float32) if `base` is given, else as the float64 sum. Rows with a zero scale
    are not read."""
    live = [i for i, s in enumerate(plan.scales.tolist()) if s != 0.0]
    if not live:
        for flat, target in zip(base if base is not None else [None] * len(out), out, strict=True):
            target[:] = flat if flat is not None else 0.0
        return out
    sub = plan.subset(live)
    job = _SumJob(
        rows=[rows[i] for i in live],
        base=base,
        out=out if executor.shares_memory else None,
        plan=sub,
        out_dtype=np.float32 if base is not None else np.float64,
    )
    parts = split_parts(_pieces(layout, chunk), executor.parallelism)
    for part, slices in zip(parts, executor.map(_sum_task, parts, job), strict=True):
        _place(out, part, slices)
    return out


# ---------------------------------------------------------------- exact products


@dataclass(frozen=True, kw_only=True)
class _ProductsJob(Job):
    scales: np.ndarray  # float32 powers of two, one per row (left rows, then right rows)
    left: int  # rows of the left set; the rest are the right set (0: symmetric Gram)
    coarse: bool


def _pad(count: int, multiple: int) -> int:
    return -(-count // multiple) * multiple


def _products_task(part: Part, job: _ProductsJob):
    kernel = kernels.active()
    count = len(job.rows)
    symmetric = job.left == 0
    if symmetric:
        top = _pad(count, 4)
        shape, offset, height = (top, top), 0, top
    else:
        top = _pad(job.left, 2)
        shape, offset = (top, _pad(count - job.left, 4)), top
        height = offset + shape[1]
    width = max(1 << 10, min(1 << 14, _floor_pow2(GRAM_ELEMENTS // max(height, 1))))
    block = np.zeros((height, width), dtype=np.float32)
    out = np.zeros(shape, dtype=np.float64 if job.coarse else np.int64)
    squares = np.zeros(height, dtype=np.int64)
    left = job.rows if symmetric else job.rows[: job.left]
    right = job.rows[job.left :]
    with (
        Pieces(left, width, kernels.row_list) as left_pieces,
        Pieces(right if not symmetric else [], width, kernels.row_list) as right_pieces,
    ):
        for tensor, start, stop, _ in part:
            for piece_start in range(start, stop, width):
                piece_stop = min(stop, piece_start + width)
                n = piece_stop - piece_start
                rows, first, last = left_pieces.get(tensor, piece_start, piece_stop)
                kernel.quantize_piece(rows, first, last, job.scales[: len(left)], block)
                if not symmetric:
                    rows, first, last = right_pieces.get(tensor, piece_start, piece_stop)
                    kernel.quantize_piece(rows, first, last, job.scales[job.left :], block[offset:])
                if job.coarse:
                    kernel.coarse_gram_piece(block, count, n, out)
                else:
                    kernel.fine_products_piece(block, offset, n, symmetric, out)
                    if not symmetric:
                        kernel.row_squares_piece(block, height, n, squares)
    return out, squares


def _floor_pow2(value: int) -> int:
    return 1 << max(0, value.bit_length() - 1)


def products(
    executor: Executor,
    layout: Layout,
    rows: Sequence[Rows],
    exponents: Sequence[int],
    *,
    left: int = 0,
    coarse: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Exact integer products of the rows rounded on their grids q_i = rint(x_i·2^e_i).

    left = 0: the symmetric Gram matrix Σ q_i q_j (float64 holding exact integers
    when `coarse`, where |q| ≤ 2^7; int64 otherwise, |q| ≤ 2^15), and None.
    left > 0: the (left × rest) matrix of products of the first `left` rows with
    the others (int64), and Σ q_i² of every row (int64).
    """
    count = len(rows)
    scales = np.array([math.ldexp(1.0, e) for e in exponents], dtype=np.float32)
    parts = split_parts(_pieces(layout, SUM_CHUNK), executor.parallelism)
    job = _ProductsJob(rows=rows, scales=scales, left=left, coarse=coarse)
    results = executor.map(_products_task, parts, job) if count else []
    if left == 0:
        exact = np.zeros((count, count), dtype=np.float64 if coarse else np.int64)
        for out, _ in results:
            exact += out[:count, :count]  # integers: exact in any order
        upper = np.triu(exact)
        return upper + np.triu(upper, 1).T, None
    right = count - left
    exact = np.zeros((left, right), dtype=np.int64)
    squares = np.zeros(count, dtype=np.int64)
    top = _pad(left, 2)
    for out, sq in results:
        exact += out[:left, :right]
        squares[:left] += sq[:left]
        squares[left:] += sq[top : top + right]
    return exact, squares


# ---------------------------------------------------------------- coordinate-wise


@lru_cache(maxsize=64)
def sorting_network(count: int) -> np.ndarray:
    """Batcher's odd–even merge sort comparators (a, b), a < b, for `count` values
    (the power-of-two network with every comparator touching an index ≥ count
    dropped, which is the network on +inf padding). Shape (k, 2), int64."""
    size = 1
    while size < count:
        size *= 2
    pairs = []
    p = 1
    while p < size:
        k = p
        while k >= 1:
            for j in range(k % p, size - k, 2 * k):
                for i in range(min(k, size - j - k)):
                    if (i + j) // (2 * p) == (i + j + k) // (2 * p) and i + j + k < count:
                        pairs.append((i + j, i + j + k))
            k //= 2
        p *= 2
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


@dataclass(frozen=True, kw_only=True)
class CoordinateReduction:
    """How `coordinatewise` reduces sorted columns: the median, or the mean of rows
    cut..count−cut−1 rounded by trim_scale (float32 power of two) and scaled back by
    trim_unit (see kernels reduce_sorted_piece)."""

    median: bool
    cut: int = 0
    trim_scale: float = 1.0
    trim_unit: float = 1.0


@dataclass(frozen=True, kw_only=True)
class _CoordJob(Job):
    reduction: CoordinateReduction
    scales: np.ndarray  # float32 grid of each row, for the agreement products
    target_scale: float


def _coord_task(part: Part, job: _CoordJob):
    kernel = kernels.active()
    count = len(job.rows)
    width = max(256, min(1 << 12, _floor_pow2(COORD_ELEMENTS // max(count, 1))))
    block = np.empty((count, width), dtype=np.float32)
    ordered = np.empty((count, width), dtype=np.float32)
    aggregate = np.empty(width, dtype=np.float64)
    qrow = np.empty(width, dtype=np.float32)
    qt = np.empty(width, dtype=np.float32)
    exact = np.zeros(2 * count + 1, dtype=np.int64)
    pairs = sorting_network(count) if count <= NETWORK_MAX else None
    reduction = job.reduction
    kept = count - 2 * reduction.cut
    slices: list[np.ndarray] | None = [] if job.out is None else None
    assert job.base is not None
    pieces = Pieces(job.rows, width, kernels.row_list)
    for tensor, start, stop, _ in part:
        target = _model_target(job, tensor, start, stop)
        for piece_start in range(start, stop, width):
            piece_stop = min(stop, piece_start + width)
            n = piece_stop - piece_start
            rows, first, last = pieces.get(tensor, piece_start, piece_stop)
            kernel.gather_piece(rows, first, last, block)
            ordered[:, :n] = block[:, :n]
            if pairs is not None:
                kernel.network_sort(ordered, n, pairs)
            else:
                ordered[:, :n] = np.sort(ordered[:, :n], axis=0)
            kernel.reduce_sorted_piece(
                ordered,
                count,
                n,
                reduction.cut,
                np.float32(reduction.trim_scale),
                reduction.trim_unit,
                float(kept),
                reduction.median,
                aggregate,
            )
            kernel.agreement_piece(
                block,
                count,
                n,
                job.scales,
                aggregate,
                np.float32(job.target_scale),
                job.base[tensor],
                piece_start,
                qrow,
                qt,
                target[piece_start - start : piece_stop - start],
                exact,
            )
        if slices is not None:
            slices.append(target)
    pieces.close()
    return exact, slices


def coordinatewise(
    executor: Executor,
    layout: Layout,
    rows: Sequence[Rows],
    reduction: CoordinateReduction,
    exponents: Sequence[int],
    target_exponent: int,
    *,
    base: Rows,
    out: list[np.ndarray],
) -> np.ndarray:
    """Write base + the coordinate-wise aggregate into `out` (float32) and return the
    exact agreement integers: Σ q_i·t (per row), Σ q_i² (per row), Σ t² — q_i the
    row on its grid 2^exponents[i], t the aggregate (as float32) on 2^target_exponent
    (all grids of `GRAM_BITS` bits: see coordinatewise)."""
    count = len(rows)
    job = _CoordJob(
        rows=rows,
        base=base,
        out=out if executor.shares_memory else None,
        reduction=reduction,
        scales=np.array([math.ldexp(1.0, e) for e in exponents], dtype=np.float32),
        target_scale=math.ldexp(1.0, target_exponent),
    )
    pieces = _pieces(layout, 1 << 16)
    parts = split_parts(pieces, executor.parallelism)
    exact = np.zeros(2 * count + 1, dtype=np.int64)
    for part, (partial, slices) in zip(parts, executor.map(_coord_task, parts, job), strict=True):
        exact += partial
        _place(out, part, slices)
    return exact
