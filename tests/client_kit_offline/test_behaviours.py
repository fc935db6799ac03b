"""The simulated behaviours (demos and tests only) do exactly what their
names say to an update."""

from __future__ import annotations

import numpy as np
import pytest

from client_kit.canonical import canonical_hash, decode_tensors, encode_tensors
from client_kit.errors import InvalidInput
from client_kit.training.behaviours import (
    SIGN_FLIP_SCALE,
    Behaviour,
    committed_update,
    tampered_bytes,
)

TRAINED = {"b": np.array([0.5, -1.0], np.float32), "w": np.ones((2, 3), np.float32)}


def test_names_parse_and_unknown_ones_are_refused() -> None:
    assert Behaviour.parse(" Sign-Flip ") is Behaviour.SIGN_FLIP
    assert [b.value for b in Behaviour] == ["honest", "sign-flip", "free-rider", "tampered"]
    with pytest.raises(InvalidInput, match="choose from honest, sign-flip, free-rider, tampered"):
        Behaviour.parse("byzantine")


def test_honest_and_tampered_commit_to_the_trained_update() -> None:
    for behaviour in (Behaviour.HONEST, Behaviour.TAMPERED):
        sent = committed_update(behaviour, TRAINED)
        assert encode_tensors(sent) == encode_tensors(TRAINED)


def test_sign_flip_negates_and_scales() -> None:
    sent = committed_update(Behaviour.SIGN_FLIP, TRAINED)
    for name, value in TRAINED.items():
        np.testing.assert_array_equal(sent[name], -SIGN_FLIP_SCALE * value)
        assert sent[name].dtype == np.float32


def test_free_rider_sends_zeros_without_training() -> None:
    assert not Behaviour.FREE_RIDER.trains and Behaviour.HONEST.trains
    sent = committed_update(Behaviour.FREE_RIDER, TRAINED)
    assert {k: v.shape for k, v in sent.items()} == {k: v.shape for k, v in TRAINED.items()}
    assert all(not v.any() for v in sent.values())


def test_tampered_bytes_are_another_well_formed_update() -> None:
    committed = encode_tensors(TRAINED)
    other = tampered_bytes(committed)
    assert canonical_hash(other) != canonical_hash(committed)
    decoded = decode_tensors(other)
    assert {k: v.shape for k, v in decoded.items()} == {k: v.shape for k, v in TRAINED.items()}
    np.testing.assert_array_equal(decoded["w"], TRAINED["w"] + 1.0)
