"""The operator's own data: a reference set and a validation set.

The reference set gives the round's reference update: the task's model
trained from the round's base model with the task package's training config,
on data the operator holds (the root dataset of FLTrust, Cao et al. 2021).
The rules that need it (`trusted_mean`, `fltrust`) and the `contribution`
reward policy (alignment with it) read it; the round record names it by hash
and CID, so `verify-round` reruns the round with the same update.

The validation set gives each finalized round's evaluation (test accuracy and
loss of the new global model), published as `offchain.events.RoundEvaluated`.
Without a separate validation set the reference set is used.

Files are `.npz` (`x`, `y`) or `.csv` as `client_kit.training.data.load_dataset`
reads them, checked against the task's model spec (`InvalidDataset`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from client_kit.canonical import Tensors
from client_kit.training.data import Dataset, load_dataset, validate_dataset
from client_kit.training.task import TaskPackage
from client_kit.training.train import loss_and_accuracy, train_local

DataSource = Dataset | str | Path


@dataclass(frozen=True)
class Evaluation:
    """A model's mean cross-entropy (nats per example), accuracy (0..1) and
    the number of examples it was measured on."""

    loss: float
    accuracy: float
    samples: int


@dataclass
class OperatorData:
    """The operator's reference and validation data (either may be None)."""

    reference: DataSource | None = None
    validation: DataSource | None = None
    _cache: dict[tuple[int, str], Dataset] = field(default_factory=dict, repr=False)

    def _dataset(self, source: DataSource, task: TaskPackage) -> Dataset:
        key = (id(source), task.model.to_json())
        found = self._cache.get(key)
        if found is None:
            if isinstance(source, Dataset):
                found = validate_dataset(source.x, source.y, task.model)
            else:
                found = load_dataset(source, task.model)
            self._cache[key] = found
        return found

    def reference_update(
        self, task: TaskPackage, base: Mapping[str, np.ndarray], round_number: int
    ) -> Tensors | None:
        """The reference update for round `round_number` (float32 delta from
        `base`), deterministic: seeded by the round number. None without a
        reference set. Raises `InvalidDataset` for data the task cannot use."""
        if self.reference is None:
            return None
        data = self._dataset(self.reference, task)
        return train_local(task, base, data, seed=round_number).update

    def evaluate(self, task: TaskPackage, weights: Mapping[str, np.ndarray]) -> Evaluation | None:
        """Loss and accuracy of `weights` on the validation set (the reference
        set if none), or None without either."""
        source = self.validation if self.validation is not None else self.reference
        if source is None:
            return None
        data = self._dataset(source, task)
        loss, accuracy = loss_and_accuracy(task.model, weights, data.x, data.y)
        return Evaluation(float(loss), float(accuracy), len(data))
