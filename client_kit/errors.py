"""Exceptions raised by the chain gateway, carrying Anchor error names."""

from __future__ import annotations

from client_kit.idl import Idl, load_idl


class ChainError(Exception):
    """Any failure talking to the chain."""


class ClusterUnreachable(ChainError):
    """The RPC endpoint did not answer."""


class ProgramNotDeployed(ChainError):
    """No executable fedstake program at the configured address."""


class TransactionFailed(ChainError):
    """A transaction was rejected; `logs` holds the program log."""

    def __init__(self, message: str, logs: list[str] | None = None) -> None:
        super().__init__(message)
        self.logs = logs or []


class FedstakeProgramError(TransactionFailed):
    """The program returned one of its named errors (codes from 6000)."""

    def __init__(self, code: int, name: str, msg: str, logs: list[str] | None = None) -> None:
        super().__init__(f"{name} ({code}): {msg}", logs)
        self.code = code
        self.name = name
        self.msg = msg


def program_error(
    code: int, logs: list[str] | None = None, idl: Idl | None = None
) -> TransactionFailed:
    """The named error for a custom program error code, if the IDL knows it."""
    known = (idl or load_idl()).errors_by_code()
    if code in known:
        name, msg = known[code]
        return FedstakeProgramError(code, name, msg, logs)
    return TransactionFailed(f"custom program error {code}", logs)
