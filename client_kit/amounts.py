"""Amounts of SOL as people type them, and lamports as the program counts them.

Every amount a user gives (CLI arguments, settings) goes through `parse_sol`,
which accepts exactly the decimal numbers that are a whole, non-negative
number of lamports fitting the program's u64: "NaN", "Infinity", "-1",
"1e400" and "0.0000000001" are each an `InvalidAmount`, never a traceback.
"""

from __future__ import annotations

import decimal
from decimal import Decimal

from client_kit.errors import InvalidInput

LAMPORTS_PER_SOL = 1_000_000_000
U64_MAX = 2**64 - 1


class InvalidAmount(InvalidInput):
    """Text that is not a usable amount of SOL."""


def parse_sol(text: str) -> int:
    """Lamports in `text` SOL (a decimal number, e.g. "0.5" or "1e-3").

    Raises `InvalidAmount` unless the value is finite, non-negative, a whole
    number of lamports and at most u64::MAX lamports.
    """
    context = decimal.Context(
        prec=60,
        Emax=10_000,
        Emin=-10_000,
        traps=[decimal.InvalidOperation, decimal.Overflow, decimal.Underflow, decimal.Clamped],
    )
    try:
        amount = context.create_decimal(str(text).strip())
    except decimal.Overflow:
        raise InvalidAmount(
            f"{text!r} SOL is more than the program can hold (u64 lamports)"
        ) from None
    except (decimal.Underflow, decimal.Clamped):
        raise InvalidAmount(f"{text!r} SOL is finer than one lamport (1e-9 SOL)") from None
    except (decimal.DecimalException, ValueError, TypeError):
        raise InvalidAmount(f"{text!r} is not an amount of SOL") from None
    if not amount.is_finite():
        raise InvalidAmount(f"{text!r} is not a finite amount of SOL")
    if amount.is_signed() and amount != 0:
        raise InvalidAmount(f"{text!r}: an amount of SOL cannot be negative")
    if amount.adjusted() > 30:
        raise InvalidAmount(f"{text!r} SOL is more than the program can hold (u64 lamports)")
    lamports = context.multiply(amount, Decimal(LAMPORTS_PER_SOL))
    if lamports != lamports.to_integral_value():
        raise InvalidAmount(f"{text!r} SOL is finer than one lamport (1e-9 SOL)")
    value = int(lamports)
    if value > U64_MAX:
        raise InvalidAmount(f"{text!r} SOL is more than the program can hold (u64 lamports)")
    return value


def format_sol(lamports: int) -> str:
    """`lamports` as "<n> SOL" with no rounding (e.g. "0.5 SOL")."""
    return f"{Decimal(lamports) / LAMPORTS_PER_SOL:f} SOL"
