"""The default rule rejects every named attack at 20% and keeps honest non-IID clients.

Uses the benchmark's simulator (20 clients, Dirichlet(0.5) shards): a few
clean rounds to leave the random initialisation, then one attacked round per
attack. The false-rejection rate of honest clients is printed and bounded.
"""

from __future__ import annotations

import numpy as np
import pytest

from bench.attacks import ATTACKS, choose_malicious
from bench.fl_sim import SimConfig, init_model, load_dataset, local_train
from offchain.aggregation import DEFAULT_RULE, UpdateInput, make_rule

CONFIG = SimConfig(num_clients=20, malicious_fraction=0.2)
WARMUP_ROUNDS = 4


@pytest.fixture(scope="module")
def warm_round():
    import torch

    torch.set_num_threads(1)  # tiny batched MLP: extra threads only contend
    data = load_dataset(CONFIG)
    rule = make_rule(DEFAULT_RULE)
    model = init_model(CONFIG)
    gen = torch.Generator().manual_seed(0)
    clients = [(data.x_train[s], data.y_train[s]) for s in data.shards]
    for _ in range(WARMUP_ROUNDS):
        deltas = local_train(model, [*clients, (data.x_root, data.y_root)], CONFIG, gen)
        reference = deltas.pop()
        updates = [
            UpdateInput(f"c{i:02d}", delta, len(shard))
            for i, (delta, shard) in enumerate(zip(deltas, data.shards, strict=True))
        ]
        model = rule.aggregate(model, updates, reference=reference).global_model
    return data, model, clients, gen


@pytest.mark.parametrize("attack_name", sorted(ATTACKS))
def test_default_rule_rejects_attackers_and_keeps_honest(attack_name: str, warm_round) -> None:
    data, model, clients, gen = warm_round
    attack = ATTACKS[attack_name]()
    malicious = set(choose_malicious(CONFIG.num_clients, CONFIG.malicious_fraction, seed=7))
    rng = np.random.default_rng(7)
    local = [
        (x, attack.poison_labels(y, 10, rng) if i in malicious else y)
        for i, (x, y) in enumerate(clients)
    ]
    deltas = local_train(model, [*local, (data.x_root, data.y_root)], CONFIG, gen)
    reference = deltas.pop()
    updates = [
        UpdateInput(f"c{i:02d}", attack.craft(d, rng) if i in malicious else d, len(data.shards[i]))
        for i, d in enumerate(deltas)
    ]
    result = make_rule(DEFAULT_RULE).aggregate(model, updates, reference=reference)
    verdicts = {v.key: v for v in result.verdicts}
    bad = [verdicts[f"c{i:02d}"] for i in sorted(malicious)]
    honest = [v for k, v in verdicts.items() if int(k[1:]) not in malicious]
    false_rejections = sum(not v.accepted for v in honest) / len(honest)
    print(
        f"{attack_name}: honest false-rejection rate {false_rejections:.1%}, "
        f"attacker reasons {[v.reason for v in bad]}"
    )
    assert all(not v.accepted and v.score_bps == 0 for v in bad)
    assert false_rejections <= 1 / 16
