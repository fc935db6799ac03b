"""Objective checks: reproducible from bytes alone, and the only way to be slashed."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from client_kit.canonical import encode_tensors
from client_kit.enums import Reason, Verdict
from offchain.aggregation import (
    RULES,
    UpdateInput,
    check_update_bytes,
    declared_norm,
    make_rule,
    norm_bound_for,
)
from offchain.aggregation.layout import Layout

BASE = {"a": np.zeros((4, 5), np.float32), "b": np.zeros(3, np.float32)}
BOUND = 10.0


def tensors(seed: int, scale: float = 0.5) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {n: (scale * rng.standard_normal(v.shape)).astype(np.float32) for n, v in BASE.items()}


def committed(update: dict) -> tuple[bytes, bytes]:
    data = encode_tensors(update)
    return data, hashlib.sha256(data).digest()


def nan_update() -> dict:
    update = tensors(3)
    update["a"][1, 2] = np.nan
    return update


CASES = [
    ("ok", lambda: committed(tensors(1))),
    ("hash_mismatch", lambda: (committed(tensors(1))[0], committed(tensors(2))[1])),
    ("malformed", lambda: (b"FSTK\x01garbage", hashlib.sha256(b"FSTK\x01garbage").digest())),
    ("shape", lambda: committed({**tensors(1), "c": np.zeros(1, np.float32)})),
    ("shape", lambda: committed({"a": tensors(1)["a"].astype(np.float64), "b": tensors(1)["b"]})),
    ("non_finite", lambda: committed(nan_update())),
    ("norm_bound", lambda: committed(tensors(4, scale=10.0))),
]


@pytest.mark.parametrize(("reason", "make"), CASES)
def test_revealed_bytes_are_checked_in_order(reason: str, make) -> None:
    data, update_hash = make()
    check = check_update_bytes(data, update_hash, BASE, 10, BOUND)
    assert check.reason.code == reason
    assert (check.tensors is not None) == (reason == "ok")
    assert check.reason.verdict is (Verdict.ACCEPTED if reason == "ok" else Verdict.SLASHED)


def test_a_zero_claim_is_malformed() -> None:
    data, update_hash = committed(tensors(1))
    assert check_update_bytes(data, update_hash, BASE, 0).reason is Reason.MALFORMED


@pytest.mark.parametrize("seed", range(40))
def test_fuzzed_bytes_never_raise_and_are_named(seed: int) -> None:
    # Given valid bytes with random flips, cuts and appends, committed as they are
    rng = np.random.default_rng(seed)
    data = bytearray(committed(tensors(seed))[0])
    for _ in range(int(rng.integers(1, 4))):
        choice = rng.integers(3)
        if choice == 0:
            data[int(rng.integers(len(data)))] ^= 1 << int(rng.integers(8))
        elif choice == 1:
            data = data[: int(rng.integers(len(data)))]
        else:
            data += rng.bytes(int(rng.integers(1, 9)))
    blob = bytes(data)
    # When checked, Then the answer is a reason (never an exception), and OK only if valid
    check = check_update_bytes(blob, hashlib.sha256(blob).digest(), BASE, 1, BOUND)
    assert check.reason in {
        Reason.OK,
        Reason.MALFORMED,
        Reason.SHAPE,
        Reason.NON_FINITE,
        Reason.NORM_BOUND,
    }


def random_round(rng: np.random.Generator) -> list[UpdateInput]:
    """Any round of valid updates: finite, right shapes, within the bound, any claims,
    any scales (zeros, tiny, huge-but-bounded, flipped), duplicates included."""
    count = int(rng.integers(1, 25))
    direction = tensors(int(rng.integers(1000)))
    out = []
    for i in range(count):
        kind = rng.integers(6)
        if kind == 0:
            update = {n: np.zeros_like(v) for n, v in BASE.items()}
        elif kind == 1 and out:
            update = dict(out[int(rng.integers(len(out)))].tensors)  # a copy
        else:
            scale = 10.0 ** rng.uniform(-8, 0.5)
            sign = -1.0 if kind == 2 else 1.0
            noise = tensors(int(rng.integers(10**6)), scale=scale)
            update = {n: (sign * scale * direction[n] + noise[n]) for n, v in BASE.items()}
        norm = declared_norm(Layout.of(BASE).rows(update))
        if norm > BOUND:
            update = {n: (v * (BOUND / norm)).astype(np.float32) for n, v in update.items()}
        update = {n: np.asarray(v, np.float32) for n, v in update.items()}
        claim = int(10 ** rng.uniform(0, 9))
        out.append(UpdateInput(f"k{i:02d}", update, claim, committed_at=int(rng.integers(3))))
    return out


@pytest.mark.parametrize("seed", range(25))
@pytest.mark.parametrize("rule", sorted(RULES))
def test_no_statistical_test_can_slash(rule: str, seed: int) -> None:
    # Given any round of objectively valid updates, last round's updates published
    rng = np.random.default_rng(seed)
    updates = random_round(rng)
    published = {f"old{i}": u.tensors for i, u in enumerate(random_round(rng))}
    published[updates[-1].key] = updates[0].tensors
    # When any rule judges it under a declared bound
    result = make_rule(rule, norm_bound=BOUND).aggregate(
        BASE, updates, reference=tensors(seed + 500), published=published
    )
    # Then nobody is slashed: the honest slash rate is 0 by construction
    assert not any(v.slashed for v in result.verdicts)


def test_norm_bound_for_noisy_updates_covers_the_noise() -> None:
    # Given clipping at 1 and Gaussian noise of std 0.01 over 10,000 coordinates
    bound = norm_bound_for(1.0, 0.01, 10_000)
    rng = np.random.default_rng(0)
    clipped = rng.standard_normal(10_000)
    clipped /= np.linalg.norm(clipped)
    noisy = [clipped + 0.01 * rng.standard_normal(10_000) for _ in range(200)]
    # Then every noisy honest update is within it, with a margin of ten noise sigmas
    assert max(np.linalg.norm(v) for v in noisy) < bound
    assert bound == pytest.approx(1.0 + 0.01 * (100 + 10))
    assert norm_bound_for(2.5) == 2.5
    with pytest.raises(ValueError):
        norm_bound_for(0.0)
