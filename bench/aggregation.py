"""Speed benchmark: our rules vs Flower's aggregate functions on the same arrays.

Cases: N=100 updates × d=1,000,000 float32 and N=20 × d=10,000,000. For each:
the read-once floor (one `numpy.sum` over every update, one thread), our FedAvg
(full rule incl. pre-filter; with the pool's declared norm bound — 2× the
largest update norm here, as a pool whose clients clip would declare — it reads
each update once; without one it reads twice; and the fixed-point sum alone),
median, trimmed mean (β=0.2) and Multi-Krum (f=⌊0.2N⌋, m=N−f), against
`flwr.server.strategy.aggregate` (aggregate, aggregate_median,
aggregate_trimmed_avg, aggregate_krum) in the same process. Extra memory of
our rules is measured with tracemalloc (numpy reports its buffers to it) in a
separate untimed call, as a multiple of one update's size (the new model alone
is 1×). Last, SHA-256 of the canonical bytes (streaming `tensors_hash`, and a
canonical file read in chunks) vs raw `hashlib` on the same bytes.

Run: .venv/bin/python bench/aggregation.py   (writes bench/results/aggregation.md)
Timings are the best of a few repeats; the machine is shared, so compare
the ratios, which are measured back to back.
"""

from __future__ import annotations

import hashlib
import math
import os
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from client_kit.canonical import encode_tensors, file_hash, tensors_hash
from offchain.aggregation import UpdateInput, kernels, make_rule
from offchain.aggregation.fixedpoint import weighted_sum
from offchain.aggregation.layout import Layout

OUT = Path(__file__).resolve().parent / "results" / "aggregation.md"
WORKERS = 2


def best_of(fn: Callable[[], object], repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def extra_memory(fn: Callable[[], object]) -> int:
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def make_case(count: int, size: int, seed: int = 0):
    """Updates with a shared direction plus noise, split into 4 named tensors."""
    rng = np.random.default_rng(seed)
    cuts = [0, size // 2, size // 2 + size // 4, size - 1000, size]
    names = ["a.weight", "b.weight", "c.weight", "d.bias"]
    direction = rng.standard_normal(size, dtype=np.float32)
    base = {n: np.zeros(cuts[i + 1] - cuts[i], np.float32) for i, n in enumerate(names)}
    updates = []
    for i in range(count):
        flat = direction * np.float32(0.01) + rng.standard_normal(
            size, dtype=np.float32
        ) * np.float32(0.01)
        updates.append(
            UpdateInput(
                f"wallet{i:03d}",
                {n: flat[cuts[j] : cuts[j + 1]] for j, n in enumerate(names)},
                int(rng.integers(10, 1000)),
            )
        )
    return base, updates


def declared_bound(updates: list[UpdateInput]) -> float:
    """What a pool whose clients clip would declare: 2× the largest update norm."""
    norms = [
        math.sqrt(math.fsum(float(np.dot(t.astype(np.float64), t)) for t in u.tensors.values()))
        for u in updates
    ]
    return 2.0 * max(norms)


def run_case(count: int, size: int, repeats: int) -> list[str]:
    from flwr.server.strategy.aggregate import (
        aggregate,
        aggregate_krum,
        aggregate_median,
        aggregate_trimmed_avg,
    )

    base, updates = make_case(count, size)
    layout = Layout.of(base)
    flower_input = [([u.tensors[n] for n in layout.names], u.num_samples) for u in updates]
    floor = best_of(
        lambda: [float(np.sum(a)) for u in updates for a in u.tensors.values()], repeats
    )
    byzantine = math.floor(0.2 * count)
    keep = count - byzantine
    bound = declared_bound(updates)
    ours = {
        "fedavg": make_rule("fedavg", workers=WORKERS, norm_bound=bound),
        "fedavg, no declared bound (two reads)": make_rule("fedavg", workers=WORKERS),
        "median": make_rule("median", workers=WORKERS),
        "trimmed_mean": make_rule("trimmed_mean", beta=0.2, workers=WORKERS),
        "multikrum": make_rule("multikrum", byzantine_fraction=0.2, keep=keep, workers=WORKERS),
    }
    for rule in ours.values():  # load the compiled kernels before timing
        rule.aggregate(base, updates[:3])
    flower = {
        "fedavg": lambda: aggregate(flower_input),
        "fedavg, no declared bound (two reads)": lambda: aggregate(flower_input),
        "median": lambda: aggregate_median(flower_input),
        "trimmed_mean": lambda: aggregate_trimmed_avg(flower_input, 0.2),
        "multikrum": lambda: aggregate_krum(flower_input, byzantine, keep),
    }
    update_bytes = size * 4
    rows = [layout.rows(u.tensors) for u in updates]
    coeffs = [1.0 / count] * count
    maxabs = [max(float(np.max(np.abs(r))) for r in row) for row in rows]
    kernel = best_of(lambda: weighted_sum(layout, rows, coeffs, maxabs, workers=WORKERS), repeats)
    lines = [
        f"### N={count} updates × d={size:,} float32 ({count * update_bytes / 1e9:.1f} GB)",
        "",
        f"Memory-bandwidth floor (one numpy.sum over all updates): **{floor:.3f} s**.",
        "",
        "| rule | ours (s) | Flower (s) | Flower / ours | ours / floor | extra memory "
        "(× one update) |",
        "|---|---|---|---|---|---|",
    ]
    flower_times: dict[str, float] = {}
    for name, rule in ours.items():
        mine = best_of(lambda rule=rule: rule.aggregate(base, updates), repeats)
        if name in flower_times:  # the same Flower function: timed once per case
            theirs = flower_times[name]
        else:
            theirs = best_of(flower[name], 1 if name in ("multikrum", "median") else repeats)
            flower_times[name] = theirs
            if name == "fedavg":
                flower_times["fedavg, no declared bound (two reads)"] = theirs
        memory = extra_memory(lambda rule=rule: rule.aggregate(base, updates)) / update_bytes
        lines.append(
            f"| {name} | {mine:.3f} | {theirs:.3f} | **{theirs / mine:.1f}×** | "
            f"{mine / floor:.1f} | {memory:.1f} |"
        )
        print(lines[-1], flush=True)
    lines += [
        f"| fedavg sum kernel only (no pre-filter) | {kernel:.3f} | | | {kernel / floor:.2f} | |",
        "",
    ]
    print(lines[-2], flush=True)
    return lines


def hash_section(size: int, repeats: int) -> list[str]:
    tensors = {"w": np.random.default_rng(1).standard_normal(size, dtype=np.float32)}
    data = encode_tensors(tensors)
    raw = best_of(lambda: hashlib.sha256(data).digest(), repeats)
    canonical = best_of(lambda: tensors_hash(tensors), repeats)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "update.fstk"
        path.write_bytes(data)
        assert file_hash(path) == hashlib.sha256(data).digest()
        from_file = best_of(lambda: file_hash(path), repeats)
    lines = [
        f"SHA-256 of {len(data) / 1e6:.0f} MB of canonical bytes: raw hashlib {raw:.3f} s; "
        f"canonical `tensors_hash` (streams the tensors) {canonical:.3f} s → "
        f"**{100 * raw / canonical:.0f}%** of raw throughput; `file_hash` (reads the file "
        f"in 1 MiB chunks, page cache warm) {from_file:.3f} s → **{100 * raw / from_file:.0f}%**.",
        "",
    ]
    print(lines[0], flush=True)
    return lines


LOAD = os.getloadavg()[0]


def main() -> None:
    started = time.perf_counter()
    sections = [*run_case(100, 1_000_000, 3), *run_case(20, 10_000_000, 2)]
    sections += hash_section(10_000_000, 5)
    runtime = time.perf_counter() - started
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        "# Aggregation speed benchmark (bench/aggregation.py)\n\n"
        "Ours: full rule (`aggregate`: pre-filter scan, geometry, exact fixed-point sums), "
        f"workers={WORKERS} (our own threads), kernels: {kernels.name()}. Flower: "
        "`flwr.server.strategy.aggregate` functions (flwr 1.41, single-threaded numpy) on the "
        "same arrays, same process. Best of repeats (Flower's median and Krum: one run); the "
        f"machine is shared (2 cores; load average at the start {LOAD:.2f}), compare the "
        "ratios.\n\n" + "\n".join(sections) + f"\nRuntime: {runtime:.0f} s.\n"
    )
    print(OUT.read_text())


if __name__ == "__main__":
    main()
