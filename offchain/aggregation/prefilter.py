"""Pre-filter shared by every rule: objective faults first, then statistical screens.

Runs before any robust rule so that malformed or wildly scaled updates can
neither crash a rule nor dominate its geometry, and so that each verdict
carries a precise reason on chain. In order:

Objective (slash; the same checks as `objective.objective_reason`):
1. `malformed`  num_samples not a positive integer.
2. `shape`      tensor names, shapes or dtype (float32) differ from the base.
3. `non_finite` a NaN or ±Inf.
4. `norm_bound` over the pool's declared norm bound (only if one is declared).

Statistical (exclude only):
5. `free_rider`   an all-zero update (the base model sent back), or a norm
                  below `min_ratio` × the median norm of the round.
6. `norm_outlier` a norm above `max_ratio` × the median norm (scaling /
                  model replacement). The median is taken over the non-zero
                  updates that passed 1–4 (lower median, so it is one of the
                  norms), which keeps it honest while fewer than half the
                  updates are attacks.
7. `replay`       a (near) copy of something already public. Under
                  commit–reveal nobody can see a peer's update of the same
                  round before committing, so a copy can only be
                  (a) of an update *published earlier* — the previous round's
                  accepted updates and global delta, passed in as `published`
                  keyed by author (`GLOBAL_DELTA` for the global delta):
                  cos(u, p) ≥ `peer_replay_cos` for something another author
                  published, unless u is at least as close to its author's
                  own previous update; or cos(u, p) ≥ 1 − `replay_tolerance`
                  for its own previous update (resending it unchanged); or a
                  cosine with the previous global delta that stands out from
                  the round's (≥ median + `delta_sigmas` × MAD and
                  ≥ `delta_min_cos`): the last global step sent again with
                  noise, which the global model being public always allows;
                  (b) of a peer's *commitment* this round (same hash, revealed
                  after the victim's reveal): byte-identical updates, of which
                  only the earliest commitment (`committed_at`) keeps its
                  judgment — if the earliest is tied, the whole tied group is
                  excluded.

Why these thresholds (bench/fl_sim, d = 2410, 3 seeds): an honest update's
cosine with *another* participant's previous update is at most 0.77 and with
the previous global delta at most 0.80 with non-IID shards (0.83 / 0.88 with
near-IID Dirichlet(100) shards), while a copy with relative noise ε has
cos = 1/√(1 + ε²): `peer_replay_cos` = 0.95 excludes copies up to ≈ 33%
noise. An honest update's cosine with its *own* previous update, on the same
data, reaches 0.9999, so only an unchanged resend (1 − cos ≤ 1e-6, noise
below ≈ 0.1%) is excluded there. Tasks whose honest updates are much more
alike (IID data, large batches) need a higher `peer_replay_cos`: a false
positive costs an honest participant one round's reward, never its stake.

Why only *accepted* updates, and the own-update exception: otherwise a
copier could frame its victim. An honest participant's update is very close
to its own earlier ones, so a copy of its update from round r−2 submitted
in round r−1 would make its honest round-r update look like a copy of the
copier's. The copy is excluded in r−1 (not a source in r), and an update
closer to its author's own previous update than to anyone else's is that
author's line of work, not a copy.
Copies noisier than that get past; what they earn is the reward policy's
business (bench/results/robustness.md, "Evasions").
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from client_kit.enums import Reason

from .executor import Executor, as_executor
from .fixedpoint import SumPlan
from .geometry import cross_products
from .layout import Layout, Rows
from .objective import NORM_BOUND_MARGIN, check_norm_bound, shape_reason
from .passes import UpdateStats, scan
from .stats import all_stats
from .types import UpdateInput

MIN_MAD = 0.02
# The global-step replay bar is a spread statistic: below this many updates in
# the round there is no spread to measure (of two honest updates the more
# aligned one would always stand out), so small rounds skip it.
MIN_MOMENTUM_UPDATES = 5
GLOBAL_DELTA = "global"  # `published` key of the previous global delta (not base58: no 'l')

Published = Mapping[str, Mapping[str, np.ndarray]]  # author key -> tensors


@dataclass(frozen=True)
class Candidate:
    """An update that passed the pre-filter, in key order."""

    index: int  # position in the key-sorted input
    key: str
    rows: Rows
    num_samples: int  # the claim as submitted
    stats: UpdateStats
    weight: int = 0  # the claim capped by the rule (see base.capped_weights)


@dataclass(frozen=True)
class Screening:
    candidates: list[Candidate]
    rejected: dict[int, Reason]  # index in key-sorted input -> reason
    median_norm: float
    replay_cosines: dict[str, float]  # key -> largest cosine with another author's published update


@dataclass(frozen=True)
class Scanned:
    """Updates read once: the shape-valid ones with their statistics (input order),
    and the objective rejections found before reading (claims, shapes)."""

    valid: list[tuple[int, Rows, UpdateStats]]
    rejected: dict[int, Reason]


def scan_updates(
    layout: Layout,
    updates: Sequence[UpdateInput],
    workers: int | Executor = 1,
    *,
    plan: SumPlan | None = None,
    base: Rows | None = None,
    out: list[np.ndarray] | None = None,
) -> Scanned:
    """Shape checks, then one read of every shape-valid update (`passes.scan`): its
    statistics and, with a `plan` (one scale per shape-valid update, in order), the
    speculative weighted model written into `out`."""
    rejected: dict[int, Reason] = {}
    valid: list[tuple[int, Rows]] = []
    for index, update in enumerate(updates):
        reason = shape_reason(layout, update)
        if reason is not Reason.OK:
            rejected[index] = reason
            continue
        valid.append((index, layout.rows(update.tensors)))
    if plan is not None and len(plan.scales) != len(valid):
        raise ValueError("the speculative plan needs one scale per shape-valid update")
    stats = scan(
        as_executor(workers),
        layout,
        [rows for _, rows in valid],
        plan=plan if valid else None,
        base=base,
        out=out,
    )
    return Scanned(
        [(index, rows, stat) for (index, rows), stat in zip(valid, stats, strict=True)], rejected
    )


@dataclass(frozen=True)
class PreFilter:
    """Thresholds of the statistical screens (see module docstring)."""

    max_ratio: float = 4.0
    min_ratio: float = 0.05
    replay_tolerance: float = 1e-6
    peer_replay_cos: float = 0.95
    delta_sigmas: float = 6.0
    delta_min_cos: float = 0.5

    def screen(
        self,
        layout: Layout,
        updates: Sequence[UpdateInput],
        workers: int | Executor = 1,
        *,
        norm_bound: float | None = None,
        published: Published | None = None,
        scanned: Scanned | None = None,
    ) -> Screening:
        """Split key-ordered `updates` into candidates and rejections with reasons.

        norm_bound: the pool's declared L2 bound (None: not declared).
        published: author key -> update made public before this round's
        commitments closed: the previous round's *accepted* updates, and the
        previous global delta under `GLOBAL_DELTA`, in the base's layout;
        invalid or zero ones are ignored.
        scanned: the result of `scan_updates` on these updates, when the caller
        already read them (the rules do, to sum in the same read).
        """
        bound = check_norm_bound(norm_bound)
        if scanned is None:
            scanned = scan_updates(layout, updates, workers)
        rejected = dict(scanned.rejected)
        finite: list[tuple[int, Rows, UpdateStats]] = []
        for index, rows, stat in scanned.valid:
            if not stat.finite:
                rejected[index] = Reason.NON_FINITE
            elif bound is not None and stat.norm > bound * (1.0 + NORM_BOUND_MARGIN):
                rejected[index] = Reason.NORM_BOUND
            elif stat.norm == 0.0:
                rejected[index] = Reason.FREE_RIDER
            else:
                finite.append((index, rows, stat))
        norms = sorted(stat.norm for _, _, stat in finite)
        median = norms[(len(norms) - 1) // 2] if norms else 0.0
        kept: list[tuple[int, Rows, UpdateStats]] = []
        for index, rows, stat in finite:
            if stat.norm > self.max_ratio * median:
                rejected[index] = Reason.NORM_OUTLIER
            elif stat.norm < self.min_ratio * median:
                rejected[index] = Reason.FREE_RIDER
            else:
                kept.append((index, rows, stat))
        executor = as_executor(workers)
        replayed, cosines = self._replays(layout, updates, kept, published or {}, executor)
        candidates: list[Candidate] = []
        for index, rows, stat in kept:
            if index in replayed:
                rejected[index] = Reason.REPLAY
            else:
                update = updates[index]
                candidates.append(Candidate(index, update.key, rows, update.num_samples, stat))
        return Screening(candidates, rejected, median, cosines)

    def _replays(
        self,
        layout: Layout,
        updates: Sequence[UpdateInput],
        kept: list[tuple[int, Rows, UpdateStats]],
        published: Published,
        workers: Executor,
    ) -> tuple[set[int], dict[str, float]]:
        replayed = _later_duplicates(updates, kept)
        cosines: dict[str, float] = {}
        sources = _published_rows(layout, published, workers)
        if sources and kept:
            dots, squares, source_squares = cross_products(
                layout,
                [rows for _, rows, _ in kept],
                [stat.maxabs for _, _, stat in kept],
                [rows for _, rows, _ in sources],
                [stat.maxabs for _, _, stat in sources],
                workers,
            )
            cos = dots / np.sqrt(np.outer(squares, source_squares))
            authors = [author for author, _, _ in sources]
            momentum = self._momentum_bar(cos, authors)
            for (index, _, _), row in zip(kept, cos, strict=True):
                key = updates[index].key
                own = max((c for a, c in zip(authors, row, strict=True) if a == key), default=0.0)
                peer = max((c for a, c in zip(authors, row, strict=True) if a != key), default=0.0)
                delta = max(
                    (c for a, c in zip(authors, row, strict=True) if a == GLOBAL_DELTA), default=0.0
                )
                cosines[key] = float(peer)
                copied = (peer >= self.peer_replay_cos or delta >= momentum) and peer > own
                if copied or own >= 1.0 - self.replay_tolerance:
                    replayed.add(index)
        return replayed, cosines

    def _momentum_bar(self, cos: np.ndarray, authors: list[str]) -> float:
        """Cosine with the previous global delta above which an update stands out as a
        replay of it: the round's median + `delta_sigmas` × MAD (lower medians, floor
        `MIN_MAD`), and at least `delta_min_cos`; none (inf) in rounds of fewer than
        `MIN_MOMENTUM_UPDATES` updates."""
        if GLOBAL_DELTA not in authors or len(cos) < MIN_MOMENTUM_UPDATES:
            return math.inf
        column = sorted(cos[:, authors.index(GLOBAL_DELTA)].tolist())
        median = column[(len(column) - 1) // 2]
        spread = sorted(abs(c - median) for c in column)[(len(column) - 1) // 2]
        return max(median + self.delta_sigmas * max(spread, MIN_MAD), self.delta_min_cos)


def _published_rows(
    layout: Layout, published: Published, workers: Executor
) -> list[tuple[str, Rows, UpdateStats]]:
    """The usable published updates (author, rows, stats): right tensors, finite, non-zero."""
    usable = []
    for author in sorted(published):
        tensors = published[author]
        if shape_reason(layout, UpdateInput(author, tensors, 1)) is Reason.OK:
            usable.append((author, layout.rows(tensors)))
    stats = all_stats([rows for _, rows in usable], workers)
    return [
        (author, rows, s)
        for (author, rows), s in zip(usable, stats, strict=True)
        if s.finite and s.norm > 0
    ]


def later_copies(committed_at: Sequence[int]) -> list[int]:
    """Positions, in a group of copies of one update, that lose to the unique
    earliest commitment (`committed_at`, unix seconds): all but that one, or
    all of them when the earliest is tied (rule (b) in the module docstring;
    also `offchain.judging.duplicate_reveals`)."""
    earliest = min(committed_at)
    firsts = [i for i, t in enumerate(committed_at) if t == earliest]
    return [i for i in range(len(committed_at)) if len(firsts) > 1 or i != firsts[0]]


def _later_duplicates(
    updates: Sequence[UpdateInput], kept: list[tuple[int, Rows, UpdateStats]]
) -> set[int]:
    """Indices of byte-identical updates that are not the unique earliest commitment.

    Identical updates have identical exact statistics, so only updates sharing
    (norm, max |value|) are compared element by element.
    """
    groups: dict[tuple[float, float], list[tuple[int, Rows]]] = {}
    for index, rows, stat in kept:
        groups.setdefault((stat.norm, stat.maxabs), []).append((index, rows))
    duplicates: set[int] = set()
    for members in groups.values():
        while len(members) > 1:
            first_rows = members[0][1]
            same = [
                (i, r)
                for i, r in members
                if all(np.array_equal(a, b) for a, b in zip(r, first_rows, strict=True))
            ]
            same_ids = {i for i, _ in same}
            members = [(i, r) for i, r in members if i not in same_ids]
            if len(same) > 1:
                times = [updates[i].committed_at for i, _ in same]
                duplicates.update(same[k][0] for k in later_copies(times))
    return duplicates
