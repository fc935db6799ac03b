"""Attack suite for the aggregation benchmarks and tests (simulation only: not
part of the operator package).

Each attack is parameterized; the malicious fraction is chosen by the caller
with `choose_malicious`. Rules must not know which attack is running.
"""

from collections.abc import Callable

from .base import Attack, PublicView, choose_malicious
from .copy_peer import CopyPeer
from .free_rider import FreeRider
from .gaussian_noise import GaussianNoise
from .inflated_claims import InflatedClaims
from .label_flip import LabelFlip
from .scaling import Scaling
from .sign_flip import SignFlip

ATTACKS: dict[str, Callable[..., Attack]] = {
    SignFlip.name: SignFlip,
    GaussianNoise.name: GaussianNoise,
    Scaling.name: Scaling,
    LabelFlip.name: LabelFlip,
    FreeRider.name: FreeRider,
    InflatedClaims.name: InflatedClaims,
    CopyPeer.name: CopyPeer,
}

__all__ = [
    "ATTACKS",
    "Attack",
    "CopyPeer",
    "FreeRider",
    "GaussianNoise",
    "InflatedClaims",
    "LabelFlip",
    "PublicView",
    "Scaling",
    "SignFlip",
    "choose_malicious",
]
