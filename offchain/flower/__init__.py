"""Flower integration, operator side: `StakedStrategy` wraps any Flower
strategy so that each Flower round is a fedstake round (docs/FLOWER.md).
Needs the `flower` extra; the participant side is `client_kit.flower`."""

from offchain.flower.strategy import OperatorLink, StakedStrategy

__all__ = ["OperatorLink", "StakedStrategy"]
