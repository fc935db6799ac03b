"""Attack suite for the aggregation benchmarks and tests (simulation only: not
part of the operator package).

Each attack is parameterized; the malicious fraction is chosen by the caller
with `choose_malicious`. Rules must not know which attack is running.
"""

from collections.abc import Callable

from .base import Attack, choose_malicious
from .free_rider import FreeRider
from .gaussian_noise import GaussianNoise
from .label_flip import LabelFlip
from .scaling import Scaling
from .sign_flip import SignFlip

ATTACKS: dict[str, Callable[..., Attack]] = {
    SignFlip.name: SignFlip,
    GaussianNoise.name: GaussianNoise,
    Scaling.name: Scaling,
    LabelFlip.name: LabelFlip,
    FreeRider.name: FreeRider,
}

__all__ = [
    "ATTACKS",
    "Attack",
    "FreeRider",
    "GaussianNoise",
    "LabelFlip",
    "Scaling",
    "SignFlip",
    "choose_malicious",
]
