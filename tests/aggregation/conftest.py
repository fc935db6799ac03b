"""Small builders shared by the aggregation tests."""

from __future__ import annotations

import numpy as np
import pytest

from offchain.aggregation import UpdateInput


def make_base(shapes: dict[str, tuple[int, ...]], seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal(shape).astype(np.float32) for name, shape in shapes.items()}


def make_updates(
    base: dict[str, np.ndarray], count: int, seed: int = 1, scale: float = 0.1
) -> list[UpdateInput]:
    rng = np.random.default_rng(seed)
    return [
        UpdateInput(
            f"key{i:03d}",
            {n: (scale * rng.standard_normal(v.shape)).astype(np.float32) for n, v in base.items()},
            10 + 3 * i,
        )
        for i in range(count)
    ]


@pytest.fixture
def small_round() -> tuple[dict[str, np.ndarray], list[UpdateInput]]:
    base = make_base({"w": (4, 3), "b": (3,)})
    return base, make_updates(base, 7)
