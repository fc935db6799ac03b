"""The model, the data and the training loop: plain Flower/PyTorch code that
knows nothing about fedstake.

The data is scikit-learn's `load_digits` (1,797 8×8 grey images, 10 classes,
shipped with scikit-learn: no download), pixels scaled to [0, 1], shuffled
once with a fixed seed and dealt round-robin into `num_partitions` parts; each
part keeps 80 % for training and 20 % for evaluation.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

FEATURES, HIDDEN, CLASSES = 64, 32, 10
SEED = 0


class Net(nn.Module):
    """64 → 32 → ReLU → 10. Its state_dict names (`layers.0.weight`, …) are
    the ones fedstake's model spec `mlp_spec(64, [32], 10)` gives."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(FEATURES, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, CLASSES)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def initial_model(seed: int = SEED) -> Net:
    """The same initial weights every time (the pool publishes them)."""
    torch.manual_seed(seed)
    return Net()


def load_data(partition_id: int, num_partitions: int, batch_size: int = 32):  # type: ignore[no-untyped-def]
    """(train loader, test loader) of partition `partition_id` of `num_partitions`."""
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(SEED).permutation(len(x))[partition_id::num_partitions]
    cut = int(len(order) * 0.8)
    train, test = order[:cut], order[cut:]

    def loader(idx: np.ndarray, shuffle: bool) -> DataLoader:
        data = TensorDataset(torch.from_numpy(x[idx]), torch.from_numpy(y[idx]))
        return DataLoader(data, batch_size=batch_size, shuffle=shuffle,
                          generator=torch.Generator().manual_seed(SEED))

    return loader(train, True), loader(test, False)


def train(net: Net, loader: DataLoader, epochs: int, lr: float) -> float:
    """SGD on cross-entropy; the mean training loss of the last epoch."""
    optimizer = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9)
    criterion = nn.CrossEntropyLoss()
    net.train()
    total, batches = 0.0, 0
    for _ in range(epochs):
        total, batches = 0.0, 0
        for images, labels in loader:
            optimizer.zero_grad()
            loss = criterion(net(images), labels)
            loss.backward()
            optimizer.step()
            total, batches = total + loss.item(), batches + 1
    return total / max(batches, 1)


def test(net: Net, loader: DataLoader) -> tuple[float, float]:
    """(mean loss, accuracy) on `loader`."""
    criterion = nn.CrossEntropyLoss(reduction="sum")
    net.eval()
    loss, correct, seen = 0.0, 0, 0
    with torch.no_grad():
        for images, labels in loader:
            out = net(images)
            loss += float(criterion(out, labels))
            correct += int((out.argmax(1) == labels).sum())
            seen += len(labels)
    return loss / max(seen, 1), correct / max(seen, 1)
