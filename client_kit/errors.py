"""The one error root, and the errors raised when talking to the chain.

Every error `client_kit` and `offchain` raise on purpose derives from
`FedstakeError`, so a caller (the CLI, a service, the API) can catch the root
and report one line, while anything else is a bug and keeps its traceback.
Errors of a single area live next to the code that raises them (storage,
keys, canonical bytes, training); they only have to derive from this root.
This module imports nothing from the rest of the package, so every module can
import it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from client_kit.idl import Idl


class FedstakeError(Exception):
    """Root of every named fedstake error (client_kit and offchain)."""


class InvalidInput(FedstakeError, ValueError):
    """A value given by a user or a caller that cannot be used (bad key, bad file, bad number)."""


class ChainError(FedstakeError):
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
    """The error a failed transaction's custom program error `code` stands
    for: `FedstakeProgramError` when the IDL names it; `TransactionFailed`
    "not enough SOL" when it is the System Program's (a payer short of
    lamports, read from its log line: every gateway's failure path comes
    through here); `TransactionFailed` with the bare code otherwise."""
    from client_kit.idl import load_idl  # the IDL module imports this one

    known = (idl or load_idl()).errors_by_code()
    if code in known:
        name, msg = known[code]
        return FedstakeProgramError(code, name, msg, logs)
    # Not ours: e.g. the System Program's error 1 when a payer lacks lamports,
    # whose log line says how many it had and needed.
    for line in logs or []:
        if "insufficient lamports" in line:
            detail = line.split("Program log: ", 1)[-1].strip()
            return TransactionFailed(f"not enough SOL in the paying account ({detail})", logs)
    return TransactionFailed(f"custom program error {code}", logs)
