"""Simulated participant behaviours, for demos and tests only.

A real participant is `honest`: it commits to the update its local training
produced and reveals exactly those bytes. The others play the misbehaviour
the protocol must handle, so that a demo or an end-to-end test can show each
outcome with real agents (`fedstake participate --behaviour …`). None of them
is an attack study: the benchmark's attack set (`bench/attacks/`) is richer
and stays outside the package. What each one does, and what the pool's
default rule and objective checks make of it (docs/PROTOCOL.md):

* `honest` commits to the trained update and reveals the same bytes:
  Accepted.
* `sign-flip` commits to −`SIGN_FLIP_SCALE` × the trained update and reveals
  it: Excluded (`trust` or `norm_outlier`).
* `free-rider` commits to a zero update (the global model sent back) and
  reveals it: Excluded (`free_rider`).
* `tampered` commits to the trained update but stores and reveals other bytes
  (`tampered_bytes`) under the committed hash: Slashed (`hash_mismatch`).

The sign flip is scaled (as in `scripts/demo.py`) so that it is excluded on
any model: on a large one the direction test (`trust`) catches it; on a tiny
one, where a random direction's cosine spread is too wide for that test, the
norm test (over 4× the round's median norm) still does.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

import numpy as np

from client_kit.canonical import Tensors, decode_tensors, encode_tensors
from client_kit.errors import InvalidInput

SIGN_FLIP_SCALE = 10.0


class Behaviour(StrEnum):
    """How a (simulated) participant turns its training into what it sends."""

    HONEST = "honest"
    SIGN_FLIP = "sign-flip"
    FREE_RIDER = "free-rider"
    TAMPERED = "tampered"

    @classmethod
    def parse(cls, value: str) -> Behaviour:
        """The behaviour named `value`; `InvalidInput` listing the names otherwise."""
        try:
            return cls(value.strip().lower())
        except ValueError:
            names = ", ".join(b.value for b in cls)
            raise InvalidInput(f"unknown behaviour {value!r}: choose from {names}") from None

    @property
    def trains(self) -> bool:
        """Whether the behaviour needs local training at all (a free-rider does not)."""
        return self is not Behaviour.FREE_RIDER


def committed_update(behaviour: Behaviour, trained: Mapping[str, np.ndarray]) -> Tensors:
    """The update (float32 tensors, shaped like `trained`) the participant
    commits to, given the delta its local training produced (for a
    free-rider, any tensors of the model's shapes: only the shapes are used)."""
    if behaviour is Behaviour.SIGN_FLIP:
        return {k: (-SIGN_FLIP_SCALE * np.asarray(v, np.float32)) for k, v in trained.items()}
    if behaviour is Behaviour.FREE_RIDER:
        return {k: np.zeros(np.shape(v), np.float32) for k, v in trained.items()}
    return {k: np.asarray(v, np.float32) for k, v in trained.items()}


def tampered_bytes(committed: bytes) -> bytes:
    """Canonical bytes of another update than `committed` (every value + 1):
    what a `tampered` participant stores and reveals under the committed
    hash. Decodable and well shaped, so the only fault is the hash mismatch."""
    return encode_tensors({k: v + np.float32(1.0) for k, v in decode_tensors(committed).items()})
