"""The default rule excludes every named attack at 20% and keeps honest non-IID clients.

Uses the benchmark's simulator (20 clients, Dirichlet(0.5) shards): a few
clean rounds to leave the random initialisation, then one attacked round per
attack, with what the protocol makes public at commit time (the previous
round's updates and global delta). No attacker is paid, nobody is slashed,
and the honest exclusion rate is printed and bounded.
Every attacker is excluded, except for label flipping (see MIN_EXCLUDED).
"""

from __future__ import annotations

import numpy as np
import pytest

from bench.attacks import ATTACKS, PublicView, choose_malicious
from bench.fl_sim import SimConfig, init_model, load_dataset, local_train
from offchain.aggregation import DEFAULT_RULE, GLOBAL_DELTA, UpdateInput, make_rule

CONFIG = SimConfig(num_clients=20, malicious_fraction=0.2)
WARMUP_ROUNDS = 4
# Label-flipped training is a genuine update on wrong labels: the trust test trades
# some of its detection (~80% in bench/results/robustness.md) for a low honest
# exclusion rate; here one of the four gets through.
MIN_EXCLUDED = {"label_flip": 3}


@pytest.fixture(scope="module")
def warm_round():
    import torch

    torch.set_num_threads(1)  # tiny batched MLP: extra threads only contend
    data = load_dataset(CONFIG)
    rule = make_rule(DEFAULT_RULE)
    model = init_model(CONFIG)
    gen = torch.Generator().manual_seed(0)
    clients = [(data.x_train[s], data.y_train[s]) for s in data.shards]
    previous: dict[str, dict[str, np.ndarray]] = {}
    delta: dict[str, np.ndarray] = {}
    for _ in range(WARMUP_ROUNDS):
        deltas = local_train(model, [*clients, (data.x_root, data.y_root)], CONFIG, gen)
        reference = deltas.pop()
        previous = {f"c{i:02d}": d for i, d in enumerate(deltas)}
        updates = [
            UpdateInput(k, d, len(s))
            for (k, d), s in zip(previous.items(), data.shards, strict=True)
        ]
        new_model = rule.aggregate(model, updates, reference=reference).global_model
        delta = {k: new_model[k] - model[k] for k in model}
        model = new_model
    return data, model, clients, gen, previous, delta


@pytest.mark.parametrize("attack_name", sorted(ATTACKS))
def test_default_rule_excludes_attackers_and_keeps_honest(attack_name: str, warm_round) -> None:
    # Given a warm model and 20% attackers who see what commit–reveal makes public
    data, model, clients, gen, previous, delta = warm_round
    attack = ATTACKS[attack_name]()
    malicious = set(choose_malicious(CONFIG.num_clients, CONFIG.malicious_fraction, seed=7))
    rng = np.random.default_rng(7)
    local = [
        (x, attack.poison_labels(y, 10, rng) if i in malicious else y)
        for i, (x, y) in enumerate(clients)
    ]
    deltas = local_train(model, [*local, (data.x_root, data.y_root)], CONFIG, gen)
    reference = deltas.pop()
    claims = {f"c{i:02d}": len(shard) for i, shard in enumerate(data.shards)}
    updates = []
    for i, d in enumerate(deltas):
        key, claim = f"c{i:02d}", claims[f"c{i:02d}"]
        if i in malicious:
            view = PublicView(WARMUP_ROUNDS, key, previous, delta, frozenset(previous), claims)
            d, claim = attack.craft(d, rng, view), attack.claim(claim, view)
        updates.append(UpdateInput(key, d, claim))
    # When the default rule judges the round
    result = make_rule(DEFAULT_RULE).aggregate(
        model, updates, reference=reference, published={**previous, GLOBAL_DELTA: delta}
    )
    # Then the attackers are excluded with no score, and nobody is slashed
    verdicts = {v.key: v for v in result.verdicts}
    bad = [verdicts[f"c{i:02d}"] for i in sorted(malicious)]
    honest = [v for k, v in verdicts.items() if int(k[1:]) not in malicious]
    exclusions = sum(v.excluded for v in honest) / len(honest)
    print(f"{attack_name}: honest exclusion {exclusions:.1%}, attackers {[v.reason for v in bad]}")
    excluded = [v for v in bad if v.excluded]
    assert len(excluded) >= MIN_EXCLUDED.get(attack_name, len(bad))
    assert all(v.score_bps == 0 for v in excluded)
    assert not any(v.slashed for v in result.verdicts)
    assert exclusions <= 1 / 16
