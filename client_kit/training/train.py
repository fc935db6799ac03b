"""Local training: one participant's round, from the global weights to an update.

The update is a delta, `trained weights − global weights`, because the
aggregator adds the aggregated deltas to the round's base model. Training is
deterministic given `seed`: the same task, weights, data and seed give a
byte-identical update (so its on-chain hash can be reproduced). To get there
the run uses a private RNG state (the caller's global torch RNG is restored
afterwards) and one CPU thread (thread count changes floating-point
summation order); the small models of a task package train fast on one core.
"""

from __future__ import annotations

import contextlib
import math
import secrets
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from client_kit.canonical import Tensors, encode_tensors, tensors_hash
from client_kit.errors import FedstakeError
from client_kit.training.accounting import MechanismStep, PrivacyLedger, calibrate_noise
from client_kit.training.data import Dataset, load_dataset, validate_dataset
from client_kit.training.privacy import PrivacyReport, privatize_update
from client_kit.training.spec import ModelSpec, build_model, check_weights, load_weights
from client_kit.training.task import TaskPackage

EpochProgress = Callable[[int, int, float], None]
"""`progress(epoch_done, epochs, mean_loss_of_that_epoch)`."""

_EVAL_BATCH = 1024


class TrainingDiverged(FedstakeError, FloatingPointError):
    """Training produced NaN or infinite weights or loss (usually: learning rate too high)."""


@dataclass(frozen=True)
class DPSGDReport:
    """What one round of DP-SGD ran and spent. `steps` are the mechanism
    steps Opacus's accountant recorded (noise multiplier σ, Poisson sample
    rate q, optimizer steps); `epsilon_round` is ε of this round alone and
    `epsilon_total` ε of every round in the ledger including this one (both
    at `delta`, from the accountant named `accountant`)."""

    noise_multiplier: float
    max_grad_norm: float
    sample_rate: float
    steps: tuple[MechanismStep, ...]
    delta: float
    accountant: str
    epsilon_round: float
    epsilon_total: float
    budget: float


@dataclass(frozen=True, eq=False)  # holds arrays: compare fields, not objects
class TrainResult:
    update: Tensors = field(repr=False)  # trained − global, float32
    num_samples: int
    train_loss: float  # on the local data, after training
    train_accuracy: float
    initial_loss: float  # on the local data, with the global weights
    initial_accuracy: float
    epochs: int
    steps: int
    base_model_hash: bytes  # tensors_hash(global weights): the base `submit_update` cites
    privacy: PrivacyReport | None = None
    dp_sgd: DPSGDReport | None = None

    def update_bytes(self) -> bytes:
        """Canonical bytes of the update (what is stored under its CID)."""
        return encode_tensors(self.update)

    def update_hash(self) -> bytes:
        """SHA-256 of the canonical update bytes (what `submit_update` records)."""
        return tensors_hash(self.update)


# torch's RNG and thread count are process-wide: two trainings in one process
# (agents sharing an event loop, each training in a worker thread) must not
# interleave, or neither update would be reproducible from its seed.
_TORCH_STATE = threading.RLock()


@contextlib.contextmanager
def deterministic(seed: int) -> Iterator[None]:
    """Seed torch privately and use one thread; restore the caller's RNG and threads after.

    Holds a process-wide lock meanwhile: callers in other threads wait, so
    each run sees only its own seed.
    """
    import torch

    with _TORCH_STATE:
        threads = torch.get_num_threads()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            torch.set_num_threads(1)
            try:
                yield
            finally:
                torch.set_num_threads(threads)


def _loss_and_accuracy(model, x, y) -> tuple[float, float]:
    import torch
    from torch.nn import functional

    model.eval()
    total_loss = 0.0
    correct = 0
    with torch.no_grad():
        for start in range(0, len(y), _EVAL_BATCH):
            logits = model(x[start : start + _EVAL_BATCH])
            labels = y[start : start + _EVAL_BATCH]
            total_loss += float(functional.cross_entropy(logits, labels, reduction="sum"))
            correct += int((logits.argmax(dim=1) == labels).sum())
    return total_loss / len(y), correct / len(y)


class Optimizer:
    """SGD (momentum, weight decay) and Adam, with torch.optim's update rules.

    Written out instead of using `torch.optim` because creating the first
    torch optimizer imports `torch._dynamo`, about six seconds of start-up
    for every CLI run, to drive two formulas. `tests/.../test_training.py`
    checks these steps against torch.optim.
    """

    def __init__(
        self,
        kind: str,
        parameters,
        *,
        lr: float,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        import torch

        self.kind = kind
        self.params = [p for p in parameters if p.requires_grad]
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.betas, self.eps = betas, eps
        self.steps = 0
        self._first = [torch.zeros_like(p) for p in self.params]  # momentum buffer / Adam m
        self._second = [torch.zeros_like(p) for p in self.params] if kind == "adam" else []

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        import torch

        self.steps += 1
        with torch.no_grad():
            for i, p in enumerate(self.params):
                if p.grad is None:
                    continue
                grad = p.grad
                if self.weight_decay:
                    grad = grad.add(p, alpha=self.weight_decay)
                if self.kind == "adam":
                    self._adam(i, p, grad)
                else:
                    if self.momentum:
                        buf = self._first[i]
                        if self.steps == 1:
                            buf.copy_(grad)
                        else:
                            buf.mul_(self.momentum).add_(grad)
                        grad = buf
                    p.add_(grad, alpha=-self.lr)

    def _adam(self, i: int, p, grad) -> None:
        beta1, beta2 = self.betas
        m, v = self._first[i], self._second[i]
        m.lerp_(grad, 1 - beta1)
        v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        correction1 = 1 - beta1**self.steps
        correction2 = 1 - beta2**self.steps
        denom = (v.sqrt() / math.sqrt(correction2)).add_(self.eps)
        p.addcdiv_(m, denom, value=-self.lr / correction1)


def _optimizer(task: TaskPackage, parameters) -> Optimizer:
    cfg = task.training
    return Optimizer(
        cfg.optimizer,
        parameters,
        lr=cfg.lr,
        momentum=cfg.momentum if cfg.optimizer == "sgd" else 0.0,
        weight_decay=cfg.weight_decay,
    )


def dp_sgd_plan(task: TaskPackage, num_samples: int) -> tuple[float, int, float]:
    """(sample rate q, optimizer steps per round, noise multiplier σ) of DP-SGD
    for this task on `num_samples` local examples.

    Opacus's Poisson loader draws each example with probability
    q = 1 / ⌈n / batch_size⌉ and runs ⌈n / batch_size⌉ steps per epoch; σ is
    calibrated (Opacus `get_noise_multiplier`) so that `dp_sgd.rounds` rounds
    spend at most the task's (ε, δ). Raises `InvalidPrivacyConfig` when the
    task has no `dp_sgd`."""
    from client_kit.training.privacy import InvalidPrivacyConfig

    dp = task.training.dp_sgd
    if dp is None:
        raise InvalidPrivacyConfig("the task does not train with DP-SGD")
    batches = math.ceil(num_samples / task.training.batch_size)
    sample_rate = 1.0 / batches
    steps = task.training.epochs * batches
    sigma = calibrate_noise(dp.epsilon, dp.delta, sample_rate, steps * dp.rounds, dp.accountant)
    return sample_rate, steps, sigma


def privacy_ledger(task: TaskPackage) -> PrivacyLedger:
    """An empty ledger for the task's ε budget, δ and accountant (`InvalidPrivacyConfig`
    when the task has no `dp_sgd`)."""
    from client_kit.training.privacy import InvalidPrivacyConfig

    dp = task.training.dp_sgd
    if dp is None:
        raise InvalidPrivacyConfig("the task does not train with DP-SGD")
    return PrivacyLedger(dp.epsilon, dp.delta, dp.accountant)


def _train_plain(task, model, x, y, seed, progress) -> int:
    import torch
    from torch.nn import functional

    cfg = task.training
    optimizer = _optimizer(task, model.parameters())
    shuffle = torch.Generator().manual_seed(seed)
    steps = 0
    for epoch in range(cfg.epochs):
        model.train()
        order = torch.randperm(len(y), generator=shuffle)
        epoch_loss = 0.0
        for start in range(0, len(y), cfg.batch_size):
            batch = order[start : start + cfg.batch_size]
            optimizer.zero_grad()
            loss = functional.cross_entropy(model(x[batch]), y[batch])
            loss.backward()
            optimizer.step()
            epoch_loss += float(loss.detach()) * len(batch)
            steps += 1
        if progress is not None:
            progress(epoch + 1, cfg.epochs, epoch_loss / len(y))
    return steps


def _train_dp_sgd(
    task, model, x, y, sigma, noise_seed, progress
) -> tuple[int, list[MechanismStep]]:
    """DP-SGD through Opacus's PrivacyEngine (per-example clipping to
    max_grad_norm, Gaussian noise σ·C, Poisson sampling); returns the steps
    taken and the history its accountant recorded. Opacus drives torch.optim
    optimizers, so this path uses them (and pays their import time).

    Both the Poisson sampling and the noise draw from one generator seeded
    with `noise_seed`: whoever knows it can regenerate the noise, so real use
    seeds it from OS entropy (torchcsprng, Opacus's `secure_mode`, is not on
    the registry)."""
    import torch
    from opacus import PrivacyEngine
    from opacus.data_loader import DPDataLoader
    from torch.nn import functional
    from torch.utils.data import DataLoader, TensorDataset

    cfg = task.training
    dp = cfg.dp_sgd
    if cfg.optimizer == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    else:
        optimizer = torch.optim.SGD(
            model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
        )
    generator = torch.Generator().manual_seed(noise_seed)
    poisson = DPDataLoader.from_data_loader(
        DataLoader(TensorDataset(x, y), batch_size=cfg.batch_size), generator=generator
    )
    model.train()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Secure RNG turned off")  # our own generator
        engine = PrivacyEngine(accountant=dp.accountant)
        module, optimizer, loader = engine.make_private(
            module=model,
            optimizer=optimizer,
            data_loader=poisson,
            noise_multiplier=sigma,
            max_grad_norm=dp.max_grad_norm,
            poisson_sampling=False,  # `poisson` samples already, with `generator`
            noise_generator=generator,
        )
    steps = 0
    for epoch in range(cfg.epochs):
        module.train()
        epoch_loss = 0.0
        for xb, yb in loader:
            optimizer.zero_grad()
            if len(yb):
                loss = functional.cross_entropy(module(xb), yb)
                with warnings.catch_warnings():  # the input needs no gradient, by design
                    warnings.filterwarnings("ignore", message="Full backward hook")
                    loss.backward()
                epoch_loss += float(loss.detach()) * len(yb)
            optimizer.step()  # an empty Poisson batch still adds noise and counts
            steps += 1
        if progress is not None:
            progress(epoch + 1, cfg.epochs, epoch_loss / len(y))
    history = [MechanismStep(float(s), float(q), int(n)) for s, q, n in engine.accountant.history]
    return steps, history


def train_local(
    task: TaskPackage,
    global_weights: Mapping[str, np.ndarray],
    data: Dataset | str | Path,
    *,
    seed: int,
    progress: EpochProgress | None = None,
    round: int = 1,
    ledger: PrivacyLedger | None = None,
    noise_seed: int | None = None,
) -> TrainResult:
    """Train the task's model from `global_weights` on `data`; return the update (a delta).

    `data` is a `Dataset` or a path to a `.npz`/`.csv` file; either way it is
    validated against the task's model spec first (`InvalidDataset`).

    When the task sets `dp_sgd`, training is DP-SGD through Opacus and the
    round is charged to `ledger` (the participant's running ε; a fresh one
    when None) as round number `round`: if that would take the total past the
    task's ε budget, `PrivacyBudgetExhausted` is raised before any training.
    The ε figures come back in `TrainResult.dp_sgd`. DP-SGD's sampling and
    noise come from `noise_seed` (default: OS entropy, so the update is then
    not reproducible from `seed`; tests and benchmarks pass one).

    When the task sets `clip_norm` (and optionally `noise_multiplier`), the
    update is then clipped and noised before it is returned; noise is drawn from
    a stream derived from `seed`, so the result stays reproducible.
    """
    import torch

    spec = task.model
    cfg = task.training
    check_weights(spec, global_weights, "global weights")
    if isinstance(data, str | Path):
        data = load_dataset(data, spec)
    else:
        data = validate_dataset(data.x, data.y, spec)
    plan = None
    if cfg.dp_sgd is not None:
        ledger = ledger if ledger is not None else privacy_ledger(task)
        sample_rate, planned_steps, sigma = dp_sgd_plan(task, len(data))
        plan = (sample_rate, sigma)
        ledger.check(round, [MechanismStep(sigma, sample_rate, planned_steps)])
    with deterministic(seed):
        model = build_model(spec, seed)
        load_weights(model, spec, global_weights)
        x = torch.from_numpy(data.x)
        y = torch.from_numpy(data.y)
        initial_loss, initial_accuracy = _loss_and_accuracy(model, x, y)
        if plan is None:
            steps = _train_plain(task, model, x, y, seed, progress)
            history: list[MechanismStep] = []
        else:
            if noise_seed is None:
                noise_seed = secrets.randbits(63)
            steps, history = _train_dp_sgd(task, model, x, y, plan[1], noise_seed, progress)
        train_loss, train_accuracy = _loss_and_accuracy(model, x, y)
        trained = {name: t.detach().numpy() for name, t in model.state_dict().items()}
    update = {
        name: (trained[name].astype(np.float32) - np.asarray(global_weights[name], np.float32))
        for name in spec.parameter_shapes()
    }
    if not all(np.isfinite(t).all() for t in update.values()) or not math.isfinite(train_loss):
        raise TrainingDiverged("training diverged (NaN or infinity); lower the learning rate")
    dp_report = None
    if plan is not None:
        assert ledger is not None and cfg.dp_sgd is not None
        total = ledger.charge(round, history)
        dp_report = DPSGDReport(
            noise_multiplier=plan[1],
            max_grad_norm=cfg.dp_sgd.max_grad_norm,
            sample_rate=plan[0],
            steps=tuple(history),
            delta=ledger.delta,
            accountant=ledger.accountant,
            epsilon_round=ledger.spent([round]),
            epsilon_total=total,
            budget=ledger.budget,
        )
    report = None
    if cfg.clip_norm is not None:
        noise_seed = np.random.SeedSequence([seed, 0x5EED]).generate_state(2)
        update, report = privatize_update(
            update,
            clip_norm=cfg.clip_norm,
            noise_multiplier=cfg.noise_multiplier or 0.0,
            seed=int(noise_seed[0]) << 32 | int(noise_seed[1]),
        )
    return TrainResult(
        update=update,
        num_samples=len(data),
        train_loss=train_loss,
        train_accuracy=train_accuracy,
        initial_loss=initial_loss,
        initial_accuracy=initial_accuracy,
        epochs=cfg.epochs,
        steps=steps,
        base_model_hash=tensors_hash(global_weights),
        privacy=report,
        dp_sgd=dp_report,
    )


def apply_update(weights: Mapping[str, np.ndarray], update: Mapping[str, np.ndarray]) -> Tensors:
    """`weights + update`, float32 (how a participant previews its own contribution)."""
    return {
        name: (np.asarray(weights[name], np.float32) + np.asarray(update[name], np.float32))
        for name in weights
    }


def loss_and_accuracy(
    spec: ModelSpec, weights: Mapping[str, np.ndarray], x: np.ndarray, y: np.ndarray
) -> tuple[float, float]:
    """(mean cross-entropy per example in nats, accuracy as a fraction 0..1) of
    the model with `weights` on (x, y): what an operator publishes as a round's
    evaluation. Raises `InvalidDataset` / `IncompatibleWeights` for bad inputs."""
    import torch

    data = validate_dataset(x, y, spec)
    with deterministic(0):
        model = build_model(spec, 0)
        load_weights(model, spec, weights)
        return _loss_and_accuracy(model, torch.from_numpy(data.x), torch.from_numpy(data.y))


def evaluate(
    spec: ModelSpec, weights: Mapping[str, np.ndarray], x: np.ndarray, y: np.ndarray
) -> float:
    """Accuracy of the model with `weights` on (x, y)."""
    return loss_and_accuracy(spec, weights, x, y)[1]
