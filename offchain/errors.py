"""Named errors of the operator runtime; all derive from `client_kit`'s `FedstakeError`."""

from __future__ import annotations

from client_kit.errors import FedstakeError


class InvalidRule(FedstakeError, ValueError):
    """An aggregation rule name or parameter the registry cannot use."""


class InvalidRoundInput(FedstakeError, ValueError):
    """Inputs a rule cannot aggregate (duplicate keys, a base or reference
    that is unusable): the operator's configuration, never a participant's fault."""


class RoundMismatch(FedstakeError):
    """The operator's view of a round disagrees with the chain (e.g. a base
    model whose hash is not the pool's global model hash)."""


class RoundNotReady(FedstakeError):
    """The round cannot be judged yet: its reveal phase is still open."""
