"""Flower integration, participant side: a ClientApp mod that turns each
Flower training reply into a fedstake commitment and reveals it when asked.

Needs the `flower` extra (`pip install 'fedstake[flower]'`); nothing else in
client_kit imports this package. The server side (`StakedStrategy`) is in
`offchain.flower`.
"""

from client_kit.flower.mod import ParticipantLink, fedstake_mod, make_fedstake_mod

__all__ = ["ParticipantLink", "fedstake_mod", "make_fedstake_mod"]
