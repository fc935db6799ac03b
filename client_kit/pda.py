"""Program-derived addresses of fedstake accounts: the only place seeds live
on the client side (they mirror `programs/fedstake/src/pda.rs`)."""

from __future__ import annotations

import struct

from solders.pubkey import Pubkey


def pool_address(program_id: Pubkey, organization: Pubkey, pool_id: int) -> tuple[Pubkey, int]:
    return Pubkey.find_program_address(
        [b"pool", bytes(organization), struct.pack("<Q", pool_id)], program_id
    )


def participant_address(program_id: Pubkey, pool: Pubkey, wallet: Pubkey) -> tuple[Pubkey, int]:
    return Pubkey.find_program_address([b"participant", bytes(pool), bytes(wallet)], program_id)


def round_address(program_id: Pubkey, pool: Pubkey, round_number: int) -> tuple[Pubkey, int]:
    return Pubkey.find_program_address(
        [b"round", bytes(pool), struct.pack("<I", round_number)], program_id
    )


def _submission_seeds(pool: Pubkey, round_number: int, wallet: Pubkey) -> list[bytes]:
    return [b"submission", bytes(pool), struct.pack("<I", round_number), bytes(wallet)]


def submission_address(
    program_id: Pubkey, pool: Pubkey, round_number: int, wallet: Pubkey
) -> tuple[Pubkey, int]:
    return Pubkey.find_program_address(_submission_seeds(pool, round_number, wallet), program_id)


def submission_address_at(
    program_id: Pubkey, pool: Pubkey, round_number: int, wallet: Pubkey, bump: int
) -> Pubkey:
    """The submission's address at `bump` (0..=255), e.g. the one stored in a
    submission found by a program-account scan: `submit_update` takes its bump
    from the caller, so it need not be the canonical one. Raises solders'
    error if that bump's address is on the curve (no PDA)."""
    return Pubkey.create_program_address(
        [*_submission_seeds(pool, round_number, wallet), bytes([bump])], program_id
    )
