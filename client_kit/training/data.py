"""A participant's local data: loaded from disk, checked against the task's model spec.

Data never leaves the participant's machine; what matters here is refusing,
with a clear `InvalidDataset` reason, anything that would make training fail
half-way or silently learn garbage: wrong feature count, labels outside the
task's classes, NaN, an empty file. `.npz` files are opened without pickle
support, so a crafted file cannot run code.

`digits_shards` builds the demo's federation: scikit-learn's bundled 8x8
digits (no download), split into a held-out test set and `n` non-IID
participant shards whose class mix follows a Dirichlet(alpha) draw per class
(small alpha: each participant sees few classes; large alpha: near IID).
"""

from __future__ import annotations

import math
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from client_kit.errors import FedstakeError, InvalidInput
from client_kit.training.spec import ModelSpec, mlp_spec

DIGITS_INPUT_SHAPE = (64,)
DIGITS_CLASSES = 10


class InvalidDataset(FedstakeError, ValueError):
    """Local data that cannot be used for the task; `reason` is a short code."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


@dataclass(frozen=True, eq=False)  # holds arrays: compare fields, not objects
class Dataset:
    """Features `x` (float32, shape [n, *input_shape]) and labels `y` (int64, shape [n])."""

    x: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def class_counts(self, num_classes: int) -> np.ndarray:
        return np.bincount(self.y, minlength=num_classes)


def validate_dataset(x: np.ndarray, y: np.ndarray, spec: ModelSpec) -> Dataset:
    """Check and convert arrays for `spec`; flat rows are reshaped to the input shape."""
    x = np.asarray(x)
    y = np.asarray(y)
    if x.dtype.kind not in "fiub" or y.dtype.kind not in "fiub":
        raise InvalidDataset("dtype", f"x is {x.dtype}, y is {y.dtype}; both must be numeric")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise InvalidDataset("labels", f"y must be a vector of class ids, got shape {y.shape}")
    if x.ndim < 1 or x.shape[0] != y.shape[0]:
        raise InvalidDataset("length", f"{x.shape[0] if x.ndim else 0} rows but {len(y)} labels")
    if len(y) == 0:
        raise InvalidDataset("empty", "no samples")
    want = spec.input_shape
    if x.shape[1:] != want:
        if x.ndim == 2 and x.shape[1] == math.prod(want):
            x = x.reshape((x.shape[0], *want))
        else:
            raise InvalidDataset(
                "shape", f"samples have shape {list(x.shape[1:])}, the model needs {list(want)}"
            )
    x = x.astype(np.float32)
    if not np.isfinite(x).all():
        raise InvalidDataset("values", "x holds NaN or infinity")
    whole = y.dtype.kind != "f" or (np.isfinite(y).all() and np.array_equal(y, np.round(y)))
    if not whole:
        raise InvalidDataset("labels", "labels must be whole numbers")
    labels = y.astype(np.int64)
    if labels.min() < 0 or labels.max() >= spec.num_classes:
        raise InvalidDataset(
            "labels",
            f"labels span {labels.min()}..{labels.max()}, the task has {spec.num_classes} classes",
        )
    return Dataset(np.ascontiguousarray(x), labels)


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = {"x", "y"} - set(archive.files)
            if missing:
                raise InvalidDataset("keys", f"{path.name} lacks arrays {sorted(missing)}")
            return archive["x"], archive["y"]
    except InvalidDataset:
        raise
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise InvalidDataset("format", f"{path.name} is not a readable .npz: {exc}") from None


def _read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Numbers separated by commas, label in the last column; one header row is allowed."""
    table = None
    for skip in (0, 1):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "input contained no data"
                table = np.loadtxt(path, delimiter=",", ndmin=2, dtype=np.float64, skiprows=skip)
            break
        except ValueError:
            continue
        except OSError as exc:
            raise InvalidDataset("format", f"cannot read {path.name}: {exc}") from None
    if table is None:
        raise InvalidDataset("format", f"{path.name} has non-numeric values")
    if table.shape[0] == 0:
        raise InvalidDataset("empty", f"{path.name} has no rows")
    if table.shape[1] < 2:
        raise InvalidDataset("shape", f"{path.name} needs feature columns and a label column")
    return table[:, :-1], table[:, -1]


def load_dataset(path: str | Path, spec: ModelSpec) -> Dataset:
    """Read `.npz` (arrays `x`, `y`) or `.csv` (last column = label) and validate it."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise InvalidDataset("missing", f"no data file at {path}")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        x, y = _read_npz(path)
    elif suffix == ".csv":
        x, y = _read_csv(path)
    else:
        raise InvalidDataset("format", f"{path.name}: expected a .npz or .csv file")
    return validate_dataset(x, y, spec)


def save_npz(path: str | Path, data: Dataset) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, x=data.x, y=data.y)
    return path


# --- the demo federation --------------------------------------------------------------------------


def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled digits: x in [0, 1] (float32, [1797, 64]), y int64."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return (digits.data / 16.0).astype(np.float32), digits.target.astype(np.int64)


def digits_mlp_spec(hidden: int = 32) -> ModelSpec:
    """A small perceptron for the 64-pixel digits: dense(hidden) → relu → dense(10)."""
    return mlp_spec(DIGITS_INPUT_SHAPE[0], hidden, DIGITS_CLASSES)


@dataclass(frozen=True, eq=False)  # holds arrays: compare fields, not objects
class DigitsFederation:
    shards: list[Dataset]
    test: Dataset
    paths: list[Path]  # one .npz per shard when written to disk, else empty


def _dirichlet_assignment(
    y: np.ndarray, n: int, alpha: float, rng: np.random.Generator, min_size: int
) -> list[np.ndarray]:
    """Indices per participant: each class is split by its own Dirichlet(alpha) draw."""
    for _ in range(1000):
        parts: list[list[int]] = [[] for _ in range(n)]
        for label in np.unique(y):
            members = rng.permutation(np.flatnonzero(y == label))
            shares = rng.dirichlet(np.full(n, alpha))
            cuts = (np.cumsum(shares)[:-1] * len(members)).astype(int)
            for owner, chunk in enumerate(np.split(members, cuts)):
                parts[owner].extend(chunk.tolist())
        if min(len(p) for p in parts) >= min_size:
            return [np.sort(np.array(p, dtype=np.int64)) for p in parts]
    raise InvalidInput(f"could not give each of {n} shards {min_size} samples; lower n or min_size")


def digits_shards(
    n: int,
    alpha: float,
    seed: int,
    *,
    out_dir: str | Path | None = None,
    test_fraction: float = 0.2,
    min_size: int = 10,
    input_shape: tuple[int, ...] = DIGITS_INPUT_SHAPE,
) -> DigitsFederation:
    """Split digits into a stratified test set and `n` Dirichlet non-IID training shards.

    Deterministic in `seed`. With `out_dir`, shards are written as
    `shard_<i>.npz` (and the test set as `test.npz`) for the CLI to load.
    `input_shape` may be (64,) or (1, 8, 8) for convolutional specs.
    """
    if n < 1 or alpha <= 0 or not 0 < test_fraction < 1:
        raise InvalidInput("need n >= 1, alpha > 0 and 0 < test_fraction < 1")
    if math.prod(input_shape) != 64:
        raise InvalidInput("digits images have 64 pixels")
    from sklearn.model_selection import train_test_split

    x, y = load_digits_arrays()
    x = x.reshape((len(x), *input_shape))
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=y
    )
    rng = np.random.default_rng(seed)
    parts = _dirichlet_assignment(y_train, n, alpha, rng, min_size)
    shards = [Dataset(x_train[idx], y_train[idx]) for idx in parts]
    test = Dataset(x_test, y_test)
    paths: list[Path] = []
    if out_dir is not None:
        folder = Path(out_dir)
        paths = [save_npz(folder / f"shard_{i}.npz", shard) for i, shard in enumerate(shards)]
        save_npz(folder / "test.npz", test)
    return DigitsFederation(shards, test, paths)
