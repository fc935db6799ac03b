"""A small, fast federated-learning simulator for the robustness benchmark.

Task: scikit-learn `load_digits` (8×8 images, 10 classes), a 64-H-10 MLP.
Clients hold Dirichlet(α) label-skewed shards (non-IID). The pool operator
holds a small clean root set (FLTrust's reference) disjoint from the clients.

Cost is kept low by training all clients at once: their weights are stacked
into batched tensors (K, ...) and one `torch.bmm` forward/backward trains the
K local models together. Every client runs the same number of local SGD steps
per round on minibatches drawn with replacement from its own shard, which is
what makes batching possible (and makes honest update norms comparable).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from bench.attacks import Attack, PublicView, choose_malicious
from offchain.aggregation import (
    GLOBAL_DELTA,
    AggregationRule,
    Judgment,
    UpdateInput,
    loo_contributions,
    to_bps,
)
from offchain.aggregation.layout import Layout

NUM_CLASSES = 10
NUM_FEATURES = 64


@dataclass(frozen=True)
class SimConfig:
    num_clients: int = 20
    rounds: int = 20
    alpha: float = 0.5
    malicious_fraction: float = 0.2
    hidden: int = 32
    local_steps: int = 30
    batch_size: int = 32
    learning_rate: float = 0.3
    root_size: int = 100
    seed: int = 0


@dataclass
class Dataset:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    x_root: np.ndarray
    y_root: np.ndarray
    shards: list[np.ndarray]  # indices into x_train per client


def load_dataset(config: SimConfig) -> Dataset:
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=0.25, stratify=y, random_state=config.seed
    )
    x_train, x_root, y_train, y_root = train_test_split(
        x_rest, y_rest, test_size=config.root_size, stratify=y_rest, random_state=config.seed
    )
    shards = dirichlet_shards(y_train, config.num_clients, config.alpha, config.seed)
    return Dataset(x_train, y_train, x_test, y_test, x_root, y_root, shards)


def dirichlet_shards(
    labels: np.ndarray, clients: int, alpha: float, seed: int, min_size: int = 5
) -> list[np.ndarray]:
    """Per class, split its samples among clients by Dirichlet(α) proportions."""
    rng = np.random.default_rng(seed)
    for _ in range(1000):
        parts: list[list[int]] = [[] for _ in range(clients)]
        for label in range(NUM_CLASSES):
            members = rng.permutation(np.flatnonzero(labels == label))
            cuts = (np.cumsum(rng.dirichlet([alpha] * clients)) * len(members)).astype(int)[:-1]
            for client, piece in enumerate(np.split(members, cuts)):
                parts[client].extend(piece.tolist())
        if min(len(p) for p in parts) >= min_size:
            return [np.array(sorted(p), dtype=np.int64) for p in parts]
    raise RuntimeError("could not draw shards with the minimum size")


def init_model(config: SimConfig) -> dict[str, np.ndarray]:
    gen = torch.Generator().manual_seed(config.seed)
    h = config.hidden

    def uniform(shape: tuple[int, ...], fan_in: int) -> np.ndarray:
        bound = 1.0 / np.sqrt(fan_in)
        return ((torch.rand(shape, generator=gen) * 2 - 1) * bound).numpy()

    return {
        "fc1.weight": uniform((h, NUM_FEATURES), NUM_FEATURES),
        "fc1.bias": uniform((h,), NUM_FEATURES),
        "fc2.weight": uniform((NUM_CLASSES, h), h),
        "fc2.bias": uniform((NUM_CLASSES,), h),
    }


def forward(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Batched MLP: params (K, ...), x (K, B, 64) -> logits (K, B, 10)."""
    hidden = torch.relu(torch.baddbmm(params["fc1.bias"][:, None], x, params["fc1.weight"].mT))
    return torch.baddbmm(params["fc2.bias"][:, None], hidden, params["fc2.weight"].mT)


def local_train(
    global_model: dict[str, np.ndarray],
    datasets: list[tuple[np.ndarray, np.ndarray]],
    config: SimConfig,
    gen: torch.Generator,
) -> list[dict[str, np.ndarray]]:
    """Train one copy of the global model per dataset; return their deltas."""
    count = len(datasets)
    params = {
        k: torch.from_numpy(v).expand(count, *v.shape).clone().requires_grad_(True)
        for k, v in global_model.items()
    }
    xs = [torch.from_numpy(x) for x, _ in datasets]
    ys = [torch.from_numpy(y) for _, y in datasets]
    for _ in range(config.local_steps):
        picks = [torch.randint(len(y), (config.batch_size,), generator=gen) for y in ys]
        xb = torch.stack([x[p] for x, p in zip(xs, picks, strict=True)])
        yb = torch.stack([y[p] for y, p in zip(ys, picks, strict=True)])
        logits = forward(params, xb)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, NUM_CLASSES), yb.reshape(-1))
        grads = torch.autograd.grad(loss * count, list(params.values()))
        with torch.no_grad():
            for p, g in zip(params.values(), grads, strict=True):
                p -= config.learning_rate * g
    with torch.no_grad():
        return [
            {k: (params[k][i].numpy() - global_model[k]).astype(np.float32) for k in params}
            for i in range(count)
        ]


def test_error(model: dict[str, np.ndarray], data: Dataset) -> float:
    with torch.no_grad():
        params = {k: torch.from_numpy(v)[None] for k, v in model.items()}
        logits = forward(params, torch.from_numpy(data.x_test)[None])[0]
        return float((logits.argmax(1).numpy() != data.y_test).mean())


def validation_loss(data: Dataset) -> Callable[[dict[str, np.ndarray]], float]:
    """The operator's validation loss: mean cross-entropy on the root set, in float64
    on one thread (reproducible, see offchain.aggregation.contribution)."""
    x = torch.from_numpy(data.x_root.astype(np.float64))[None]
    y = torch.from_numpy(data.y_root)

    def loss(model: dict[str, np.ndarray]) -> float:
        with torch.no_grad():
            params = {k: torch.from_numpy(v.astype(np.float64))[None] for k, v in model.items()}
            logits = forward(params, x)[0]
            return float(torch.nn.functional.cross_entropy(logits, y))

    return loss


POLICIES = ("equal", "contribution", "loo")
"""Reward policies scored from the same verdicts: `equal`; `contribution` with the
default measure (alignment with the reference update); `contribution` with the
`loo` measure (leave-one-out of the root-set loss)."""


@dataclass
class GroupStats:
    """Judgments of one group (honest or attackers) over a run (participants × rounds).

    bps: total basis points paid to the group, per policy (`POLICIES`). The
    verdicts are the same for every policy.
    """

    judged: int = 0
    excluded: int = 0
    slashed: int = 0
    bps: dict[str, int] = field(default_factory=lambda: dict.fromkeys(POLICIES, 0))
    reasons: Counter = field(default_factory=Counter)
    per_participant: dict[str, Counter] = field(
        default_factory=lambda: {policy: Counter() for policy in POLICIES}
    )
    unpaid_accepted: dict[str, int] = field(default_factory=lambda: dict.fromkeys(POLICIES, 0))

    @property
    def exclusion_rate(self) -> float:
        return self.excluded / max(self.judged, 1)

    @property
    def slash_rate(self) -> float:
        return self.slashed / max(self.judged, 1)

    @property
    def rejection_rate(self) -> float:
        """Share of judgments not accepted (excluded or slashed)."""
        return (self.excluded + self.slashed) / max(self.judged, 1)

    def share(self, policy: str) -> float:
        """Mean bps per participant of the group per round."""
        return self.bps[policy] / max(self.judged, 1)

    def spread(self, policy: str) -> float:
        """Coefficient of variation of the participants' total rewards over the run."""
        totals = np.array(list(self.per_participant[policy].values()), dtype=np.float64)
        if totals.size == 0 or totals.mean() == 0:
            return 0.0
        return float(totals.std() / totals.mean())

    def record(self, verdict: Judgment, scores: dict[str, dict[str, int]]) -> None:
        self.judged += 1
        self.excluded += verdict.excluded
        self.slashed += verdict.slashed
        self.reasons[verdict.reason] += 1
        for policy in POLICIES:
            points = scores[policy][verdict.key]
            self.bps[policy] += points
            self.per_participant[policy][verdict.key] += points
            self.unpaid_accepted[policy] += verdict.accepted and points == 0


@dataclass
class RunResult:
    test_error: float
    honest: GroupStats = field(default_factory=GroupStats)
    malicious: GroupStats = field(default_factory=GroupStats)


def loo_scores(
    model: dict[str, np.ndarray],
    updates: list[UpdateInput],
    verdicts: list[Judgment],
    loss: Callable[[dict[str, np.ndarray]], float],
) -> dict[str, int]:
    """Basis points of the accepted updates under the `loo` contribution measure."""
    layout = Layout.of(model)
    accepted = {v.key for v in verdicts if v.accepted}
    chosen = sorted((u for u in updates if u.key in accepted), key=lambda u: u.key)
    rows = [layout.rows(u.tensors) for u in chosen]
    maxabs = [max(float(np.abs(flat).max(initial=0.0)) for flat in row) for row in rows]
    values, _ = loo_contributions(layout, model, rows, maxabs, loss)
    points = dict(zip([u.key for u in chosen], to_bps(values), strict=True))
    return {v.key: points.get(v.key, 0) for v in verdicts}


def client_key(index: int) -> str:
    return f"client{index:04d}"


def run_federated(
    config: SimConfig,
    data: Dataset,
    rule: AggregationRule,
    attack: Attack | None,
    on_round: Callable[[int, float], None] | None = None,
) -> RunResult:
    """Simulate `config.rounds` rounds of the pool's protocol with commit–reveal.

    Each round: every client trains from the global model; attackers craft
    their update and claim from what is public when they commit (the
    previous round's revealed updates, global delta and verdicts; this
    round's claims). The rule gets the previous round's accepted updates and
    global delta as `published` (for its replay test) and the operator's root-set
    loss as `validation`. `rule` must use the `contribution` policy (default
    measure); the `equal` and `loo` scores are computed from the same verdicts.
    """
    malicious = set(
        choose_malicious(config.num_clients, config.malicious_fraction, config.seed)
        if attack
        else []
    )
    rng = np.random.default_rng(config.seed + 1)
    client_data = []
    for i, shard in enumerate(data.shards):
        labels = data.y_train[shard]
        if i in malicious and attack is not None:
            labels = attack.poison_labels(labels, NUM_CLASSES, rng)
        client_data.append((data.x_train[shard], labels))
    claims = {client_key(i): len(shard) for i, shard in enumerate(data.shards)}
    loss = validation_loss(data)
    model = init_model(config)
    gen = torch.Generator().manual_seed(config.seed + 2)
    result = RunResult(test_error=1.0)
    previous: dict[str, dict[str, np.ndarray]] = {}
    previous_delta: dict[str, np.ndarray] | None = None
    previous_accepted: frozenset[str] = frozenset()
    for round_index in range(config.rounds):
        deltas = local_train(model, [*client_data, (data.x_root, data.y_root)], config, gen)
        reference = deltas.pop()
        updates = []
        for i, delta in enumerate(deltas):
            key = client_key(i)
            claim = claims[key]
            if i in malicious and attack is not None:
                view = PublicView(
                    round_index, key, previous, previous_delta, previous_accepted, claims
                )
                delta = attack.craft(delta, rng, view)
                claim = attack.claim(claim, view)
            updates.append(UpdateInput(key, delta, claim))
        published = {k: v for k, v in previous.items() if k in previous_accepted}
        if previous_delta is not None:
            published[GLOBAL_DELTA] = previous_delta
        outcome = rule.aggregate(
            model, updates, reference=reference, published=published, validation=loss
        )
        scores = {
            "equal": dict(
                zip(
                    [v.key for v in outcome.verdicts],
                    to_bps([1.0 if v.accepted else 0.0 for v in outcome.verdicts]),
                    strict=True,
                )
            ),
            "contribution": {v.key: v.score_bps for v in outcome.verdicts},
            "loo": loo_scores(model, updates, outcome.verdicts, loss),
        }
        for verdict in outcome.verdicts:
            bad = int(verdict.key.removeprefix("client")) in malicious
            (result.malicious if bad else result.honest).record(verdict, scores)
        previous = {u.key: dict(u.tensors) for u in updates}
        previous_delta = {k: outcome.global_model[k] - model[k] for k in model}
        previous_accepted = frozenset(v.key for v in outcome.verdicts if v.accepted)
        model = outcome.global_model
        if on_round:
            on_round(round_index, test_error(model, data))
    result.test_error = test_error(model, data)
    return result


def run_centralized(config: SimConfig, data: Dataset) -> float:
    """Same model and budget trained on all client data pooled (a reference point)."""
    model = init_model(config)
    gen = torch.Generator().manual_seed(config.seed + 2)
    pooled = (data.x_train, data.y_train)
    steps = config.rounds * config.local_steps
    one_round = SimConfig(**{**config.__dict__, "local_steps": steps})
    delta = local_train(model, [pooled], one_round, gen)[0]
    return test_error({k: model[k] + delta[k] for k in model}, data)
