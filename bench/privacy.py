"""Privacy benchmark: test accuracy against ε on digits, for participant-side
DP-SGD and for central DP-FedAvg, with the non-private baseline in the same run.

Protocol: sklearn's load_digits, `digits_mlp_spec()` (64-32-10 MLP), 10
participants with Dirichlet(10) shards (near IID), 8 FedAvg rounds of one
local epoch (batch 16, SGD lr 0.3), δ = 1e-5, seeds 0–2. Every participant
trains with fedstake's own `train_local`, so the DP-SGD runs are Opacus's
DP-SGD as the agent runs it.

- non-private: FedAvg (sample-weighted mean) of plain local training;
- local DP-SGD at ε ∈ {1, 4, 16, 64}: the task's `dp_sgd` budget planned over the
  8 rounds (max grad norm 1.0); each participant's noise is calibrated by
  Opacus for its own shard, and the ε reported is the largest total any
  participant spent (from its ledger) — record-level DP for that participant's data;
- central DP at ε ∈ {1, 4, 16, 64}: plain local training, then
  `offchain.aggregation.central_dp.noised_mean` (clip 0.5, equal weights,
  Gaussian noise calibrated over the 8 rounds) — participant-level DP for
  the global model; ε is the accountant's after the last round.

The two ε are different guarantees (one example vs one participant's whole
data) and are shown side by side, not as a ranking.

Run (writes bench/results/privacy.md and bench/results/privacy.png, about
10 min on 2 shared cores):
    .venv/bin/python bench/privacy.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from client_kit.training import digits_mlp_spec, digits_shards, evaluate
from client_kit.training.accounting import calibrate_noise
from client_kit.training.task import DPSGDConfig, TaskPackage, TrainingConfig
from client_kit.training.train import apply_update, privacy_ledger, train_local
from offchain.aggregation.central_dp import CentralDP, noised_mean

CLIENTS = 10
ROUNDS = 8
DELTA = 1e-5
EPSILONS = (1.0, 4.0, 16.0, 64.0)
CENTRAL_CLIP = 0.5
RESULTS = Path(__file__).resolve().parent / "results"


def _training(dp: DPSGDConfig | None) -> TrainingConfig:
    return TrainingConfig(epochs=1, batch_size=16, lr=0.3, dp_sgd=dp)


def _fedavg(updates, weights) -> dict:  # type: ignore[no-untyped-def]
    total = sum(weights)
    return {
        name: sum(u[name].astype(np.float64) * w for u, w in zip(updates, weights, strict=True))
        / total
        for name in updates[0]
    }


def run(mode: str, epsilon: float | None, seed: int) -> tuple[float, float]:
    """(test accuracy after the last round, ε spent) of one federation."""
    fed = digits_shards(CLIENTS, 10.0, seed)
    dp = None
    if mode == "dp-sgd":
        dp = DPSGDConfig(epsilon=epsilon, delta=DELTA, max_grad_norm=1.0, rounds=ROUNDS)
    task = TaskPackage.create("bench", "", digits_mlp_spec(), _training(dp), seed=seed)
    weights = task.initial_tensors()
    ledgers = [privacy_ledger(task) if dp else None for _ in fed.shards]
    central = None
    if mode == "central":
        sigma = calibrate_noise(epsilon, DELTA, 1.0, ROUNDS)
        central = CentralDP(CENTRAL_CLIP, sigma, DELTA)
    rng = np.random.default_rng([seed, 0xDB])
    spent = 0.0
    for r in range(1, ROUNDS + 1):
        results = [
            train_local(
                task,
                weights,
                shard,
                seed=seed * 1000 + r * 100 + i,
                round=r,
                ledger=ledgers[i],
                noise_seed=seed * 1000 + r * 100 + i,
            )
            for i, shard in enumerate(fed.shards)
        ]
        updates = [res.update for res in results]
        if central is not None:
            out = noised_mean(updates, central, r, rng)
            delta, spent = out.delta, out.epsilon_total
        else:
            delta = _fedavg(updates, [res.num_samples for res in results])
            if dp is not None:
                spent = max(res.dp_sgd.epsilon_total for res in results)
        weights = apply_update(weights, delta)
    return evaluate(task.model, weights, fed.test.x, fed.test.y), spent


def _mean_sd(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    configs = [("non-private", None)] + [
        (mode, eps) for mode in ("dp-sgd", "central") for eps in EPSILONS
    ]
    rows = []
    started = time.perf_counter()
    for mode, eps in configs:
        t0 = time.perf_counter()
        runs = [run(mode, eps, seed) for seed in args.seeds]
        acc, acc_sd = _mean_sd([a for a, _ in runs])
        spent = max(s for _, s in runs)
        rows.append((mode, eps, acc, acc_sd, spent, time.perf_counter() - t0))
        print(
            f"{mode:12} ε target {eps!s:5} accuracy {acc:.3f} ± {acc_sd:.3f} "
            f"ε spent {spent:.3f}  ({rows[-1][-1]:.1f} s)",
            flush=True,
        )
    baseline = rows[0][2]
    lines = [
        "# Accuracy vs ε (bench/privacy.py)",
        "",
        f"digits, 64-32-10 MLP, {CLIENTS} participants (Dirichlet 10), {ROUNDS} rounds, "
        f"δ = {DELTA:g}, seeds {args.seeds}; ε figures from Opacus's accountants (RDP). "
        f"Local DP-SGD: max grad norm 1.0, ε = the largest any participant spent "
        f"(per-example DP). Central DP: clip {CENTRAL_CLIP}, ε per participant "
        f"(participant-level DP). Total run time {time.perf_counter() - started:.0f} s.",
        "",
        "| mode | ε target | ε spent | test accuracy (mean ± sd) | vs non-private |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for mode, eps, acc, sd, spent, _ in rows:
        target = "—" if eps is None else f"{eps:g}"
        spent_text = "∞ (no DP)" if eps is None else f"{spent:.3f}"
        lines.append(
            f"| {mode} | {target} | {spent_text} | {acc:.3f} ± {sd:.3f} | {acc / baseline:.2f}× |"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "privacy.md").write_text("\n".join(lines) + "\n")
    _plot(rows, args.out / "privacy.png", args.seeds)
    print("\n".join(lines))


def _plot(rows, path: Path, seeds) -> None:  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    baseline = rows[0]
    ax.axhline(baseline[2], color="gray", linestyle="--", label="non-private")
    for mode, marker in (("dp-sgd", "o"), ("central", "s")):
        chosen = [r for r in rows if r[0] == mode]
        ax.errorbar(
            [r[1] for r in chosen],
            [r[2] for r in chosen],
            yerr=[r[3] for r in chosen],
            marker=marker,
            capsize=3,
            label="local DP-SGD (per example)"
            if mode == "dp-sgd"
            else "central DP (per participant)",
        )
    ax.set_xscale("log")
    ax.set_xlabel("ε (δ = 1e-5, Opacus RDP accountant)")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"digits, {CLIENTS} participants, {ROUNDS} rounds, seeds {seeds}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)


if __name__ == "__main__":
    main()
