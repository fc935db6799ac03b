"""Privacy accounting: the (ε, δ) a participant's DP-SGD training has spent.

Every ε figure fedstake shows comes from Opacus's accountants (Rényi DP,
Mironov 2017 / Abadi et al. 2016's moments accountant, `"rdp"`; or the
privacy-random-variable accountant of Gopi, Lee & Wutschitz 2021, `"prv"`),
never from a formula of our own. This module only keeps the history those
accountants read — per round, the (noise multiplier σ, sample rate q,
steps) of the subsampled Gaussian mechanism DP-SGD ran — and asks them.

`PrivacyLedger` is the participant's running total across rounds:
`charge(round, step)` refuses (`PrivacyBudgetExhausted`) a round that would
take the total past the task's ε budget *before* anything is trained, and
the ledger serialises to JSON so the agent keeps it across restarts.
"""

from __future__ import annotations

import functools
import json
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from client_kit.errors import FedstakeError
from client_kit.training.privacy import InvalidPrivacyConfig

ACCOUNTANTS = ("rdp", "prv")


class InvalidPrivacyBudget(InvalidPrivacyConfig):
    """An ε budget, δ, sample rate or accountant that makes no sense
    (ε ≤ 0, δ outside (0, 1), q outside (0, 1], an unknown accountant)."""


class PrivacyBudgetExhausted(FedstakeError):
    """Training this round would spend more than the task's ε budget; nothing
    was trained or submitted. `spent` is ε so far, `would_be` ε after the
    round, `budget` the task's ε (all for the task's δ)."""

    def __init__(self, round: int, spent: float, would_be: float, budget: float) -> None:
        self.round, self.spent, self.would_be, self.budget = round, spent, would_be, budget
        super().__init__(
            f"round {round}: training would spend ε = {would_be:.4g} in total, past the task's "
            f"budget of ε = {budget:.4g} (spent so far: {spent:.4g}); not training"
        )


class InvalidPrivacyLedger(FedstakeError, ValueError):
    """A privacy ledger file that is not what `PrivacyLedger.save` writes."""


def check_budget(epsilon: float, delta: float, accountant: str = "rdp") -> None:
    """Raise `InvalidPrivacyBudget` unless 0 < ε < ∞, 0 < δ < 1 and the
    accountant is one of `ACCOUNTANTS`."""
    if isinstance(epsilon, bool) or not isinstance(epsilon, int | float):
        raise InvalidPrivacyBudget("epsilon must be a number")
    if not 0 < epsilon < math.inf:
        raise InvalidPrivacyBudget(f"epsilon must be positive and finite, got {epsilon}")
    if isinstance(delta, bool) or not isinstance(delta, int | float) or not 0 < delta < 1:
        raise InvalidPrivacyBudget(f"delta must be in (0, 1), got {delta}")
    if accountant not in ACCOUNTANTS:
        raise InvalidPrivacyBudget(f"accountant must be one of {list(ACCOUNTANTS)}")


@dataclass(frozen=True)
class MechanismStep:
    """`steps` runs of the subsampled Gaussian mechanism with noise multiplier
    σ (noise std / clip bound) and Poisson sample rate q ∈ (0, 1] — one
    round of DP-SGD (q = 1 for an unsampled release, e.g. central DP)."""

    noise_multiplier: float
    sample_rate: float
    steps: int

    def __post_init__(self) -> None:
        if not 0 < self.noise_multiplier < math.inf:
            raise InvalidPrivacyBudget("noise_multiplier must be positive and finite")
        if not 0 < self.sample_rate <= 1:
            raise InvalidPrivacyBudget("sample_rate must be in (0, 1]")
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 1:
            raise InvalidPrivacyBudget("steps must be a positive integer")

    def as_tuple(self) -> tuple[float, float, int]:
        """Opacus's history entry: (noise_multiplier, sample_rate, num_steps)."""
        return (float(self.noise_multiplier), float(self.sample_rate), int(self.steps))


def epsilon_spent(steps: Iterable[MechanismStep], delta: float, accountant: str = "rdp") -> float:
    """ε of the composition of `steps` at `delta`, from Opacus's accountant
    (`InvalidPrivacyBudget` for a bad δ or accountant). 0.0 for no steps."""
    check_budget(1.0, delta, accountant)
    # Composition is commutative: runs of the same (σ, q) add their steps, as
    # Opacus's own `step()` merges them, so the accountant sees one entry each.
    merged: dict[tuple[float, float], int] = {}
    for step in steps:
        sigma, q, n = step.as_tuple()
        merged[(sigma, q)] = merged.get((sigma, q), 0) + n
    history = tuple((sigma, q, n) for (sigma, q), n in sorted(merged.items()))
    if not history:
        return 0.0
    return _epsilon(history, float(delta), accountant)


@functools.lru_cache(maxsize=1024)  # a pure function of its numbers; the agent asks often
def _epsilon(history: tuple[tuple[float, float, int], ...], delta: float, accountant: str) -> float:
    from opacus.accountants import create_accountant

    acct = create_accountant(accountant)
    acct.history = list(history)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Optimal order")  # still a valid bound
        return float(acct.get_epsilon(delta=delta))


@functools.lru_cache(maxsize=256)  # a pure function of its numbers (a binary search of ~1 s)
def calibrate_noise(
    epsilon: float, delta: float, sample_rate: float, steps: int, accountant: str = "rdp"
) -> float:
    """σ such that `steps` steps at sample rate q spend at most (ε, δ) —
    Opacus's `get_noise_multiplier` (binary search, tolerance 0.01 in ε)."""
    check_budget(epsilon, delta, accountant)
    MechanismStep(1.0, sample_rate, steps)  # validates q and steps
    from opacus.accountants.utils import get_noise_multiplier

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Optimal order")  # still a valid bound
        return float(
            get_noise_multiplier(
                target_epsilon=epsilon,
                target_delta=delta,
                sample_rate=sample_rate,
                steps=steps,
                accountant=accountant,
            )
        )


@dataclass
class PrivacyLedger:
    """One participant's privacy spending in one pool, round by round.

    `budget` is the task's ε, `delta` its δ, `accountant` the Opacus
    accountant's name. `rounds` maps a round number to the mechanism steps
    its training ran. A round is charged at most once (retraining the same
    round replaces its entry: only one update per round is ever released).
    """

    budget: float
    delta: float
    accountant: str = "rdp"
    rounds: dict[int, tuple[MechanismStep, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_budget(self.budget, self.delta, self.accountant)

    def spent(self, rounds: Iterable[int] | None = None) -> float:
        """ε spent by `rounds` (default: every charged round) together."""
        chosen = self.rounds if rounds is None else {r: self.rounds[r] for r in rounds}
        return epsilon_spent(
            [s for r in sorted(chosen) for s in chosen[r]], self.delta, self.accountant
        )

    def preview(self, round: int, steps: Sequence[MechanismStep]) -> float:
        """ε in total if `round` ran `steps` (replacing a previous charge of that round)."""
        others = [s for r in sorted(self.rounds) if r != round for s in self.rounds[r]]
        return epsilon_spent([*others, *steps], self.delta, self.accountant)

    def check(self, round: int, steps: Sequence[MechanismStep]) -> float:
        """The total ε after `round`; `PrivacyBudgetExhausted` if it is over budget."""
        total = self.preview(round, steps)
        if total > self.budget:
            spent = self.spent([r for r in self.rounds if r != round])
            raise PrivacyBudgetExhausted(round, spent, total, self.budget)
        return total

    def charge(self, round: int, steps: Sequence[MechanismStep]) -> float:
        """Record `round`'s steps and return the total ε (after `check`)."""
        total = self.check(round, steps)
        self.rounds[round] = tuple(steps)
        return total

    def to_dict(self) -> dict:
        return {
            "budget": self.budget,
            "delta": self.delta,
            "accountant": self.accountant,
            "rounds": {str(r): [s.as_tuple() for s in steps] for r, steps in self.rounds.items()},
        }

    @classmethod
    def from_dict(cls, obj: object) -> PrivacyLedger:
        if not isinstance(obj, Mapping) or set(obj) != {"budget", "delta", "accountant", "rounds"}:
            raise InvalidPrivacyLedger("keys must be budget, delta, accountant, rounds")
        try:
            rounds = {
                int(r): tuple(MechanismStep(float(s), float(q), int(n)) for s, q, n in steps)
                for r, steps in obj["rounds"].items()
            }
            return cls(float(obj["budget"]), float(obj["delta"]), str(obj["accountant"]), rounds)
        except (InvalidPrivacyConfig, TypeError, ValueError, AttributeError) as exc:
            raise InvalidPrivacyLedger(f"not a privacy ledger: {exc}") from None

    def save(self, path: Path) -> None:
        """Write the ledger as JSON (atomically: a temporary file, then a rename)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_dict(), sort_keys=True))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> PrivacyLedger | None:
        """The ledger saved at `path`, None if there is none (`InvalidPrivacyLedger`)."""
        if not path.exists():
            return None
        try:
            obj = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidPrivacyLedger(f"{path}: {exc}") from None
        return cls.from_dict(obj)
