"""Sharded over Ray workers, a round gives the single-process bytes (the `ray` extra)."""

from __future__ import annotations

import numpy as np
import pytest

ray = pytest.importorskip(
    "ray", reason="Ray is an optional extra (pip install 'fedstake[ray]'); not installed here"
)

from client_kit.canonical import write_tensors  # noqa: E402
from offchain.aggregation import UpdateInput, make_rule  # noqa: E402
from offchain.aggregation.mapped import open_update  # noqa: E402
from offchain.aggregation.ray_executor import RayExecutor  # noqa: E402

from .test_determinism import round_inputs  # noqa: E402


@pytest.fixture(scope="module")
def executor():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield RayExecutor(parts=3)
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def mapped_round(tmp_path_factory):
    """The determinism round, with a sign-flipped update, as canonical files on disk."""
    base, updates, reference = round_inputs(2)
    updates[4] = UpdateInput(updates[4].key, {n: -v for n, v in updates[4].tensors.items()}, 9)
    folder = tmp_path_factory.mktemp("round")
    opened = []
    for update in updates:
        path = folder / f"{update.key}.fstk"
        with open(path, "wb") as handle:
            write_tensors(update.tensors, handle)
        opened.append(open_update(path))
    mapped = [
        UpdateInput(u.key, m.tensors, u.num_samples) for u, m in zip(updates, opened, strict=True)
    ]
    return base, updates, mapped, reference


def judge(rule: str, workers, base, updates, reference) -> tuple:
    result = make_rule(
        rule, workers=workers, norm_bound=5.0, reward_policy="contribution"
    ).aggregate(base, updates, reference=reference)
    return result.model_hash(), [(v.key, v.reason, v.score_bps) for v in result.verdicts]


@pytest.mark.parametrize("rule", ["fedavg", "trusted_mean", "multikrum", "trimmed_mean"])
def test_ray_shards_give_the_single_process_bytes(rule: str, executor, mapped_round) -> None:
    # Given one round as in-memory arrays and as mapped files
    base, updates, mapped, reference = mapped_round
    # When judged in this process, and sharded over Ray workers (files read by the workers)
    here = judge(rule, 2, base, updates, reference)
    sharded = judge(rule, executor, base, mapped, reference)
    # Then the global model hash, every verdict and every score are identical
    assert sharded == here
    assert any(reason != "ok" for _, reason, _ in here[1]) or rule == "fedavg"


def test_partial_gram_matrices_sum_to_the_single_process_gram(executor, mapped_round) -> None:
    from offchain.aggregation.geometry import coarse_gram, gram
    from offchain.aggregation.layout import Layout

    base, _, mapped, _ = mapped_round
    layout = Layout.of(base)
    rows = [layout.rows(u.tensors) for u in mapped]
    maxabs = [max(float(np.abs(t).max()) for t in row) for row in rows]
    assert np.array_equal(gram(layout, rows, maxabs, executor), gram(layout, rows, maxabs, 1))
    assert np.array_equal(
        coarse_gram(layout, rows, maxabs, executor), coarse_gram(layout, rows, maxabs, 2)
    )
