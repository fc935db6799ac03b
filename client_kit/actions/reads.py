"""Typed reads every role needs: one account by its address, or a filtered list
(pools, a pool's participants, rounds and submissions).

A missing account, or one that is not the program's, is a named error for
`load_*` and None for `find_*`; a listing asks the chain only for the accounts
it wants (memcmp and dataSize filters built from the IDL).
"""

from __future__ import annotations

from solders.pubkey import Pubkey

from client_kit.accounts import (
    Participant,
    Pool,
    Round,
    Submission,
    T,
    account_filters,
    decode_account,
)
from client_kit.errors import FedstakeError
from client_kit.gateway.base import AccountInfo, ChainGateway
from client_kit.instructions import FedstakeInstructions


class AccountNotFound(FedstakeError, LookupError):
    """No account of the expected fedstake type at an address."""


class PoolNotFound(AccountNotFound):
    """No fedstake pool at the address."""


class ParticipantNotFound(AccountNotFound):
    """The wallet has not joined the pool (or has withdrawn)."""


def instructions(chain: ChainGateway) -> FedstakeInstructions:
    """Instruction builders (and PDA derivation) for the chain's program id."""
    return FedstakeInstructions(chain.program_id)


async def find_account(chain: ChainGateway, cls: type[T], key: Pubkey) -> T | None:
    """The `cls` account at `key`, or None if there is none owned by the program.

    Raises `AccountDecodeError` if the program's account there is another type.
    """
    return decode_found(chain, cls, await chain.get_account(key))


def decode_found(chain: ChainGateway, cls: type[T], info: AccountInfo | None) -> T | None:
    """`info` (as a read returned it) decoded as `cls`, or None when there is
    no account or it is not the program's; `AccountDecodeError` if the
    program's account is another type. For batched reads (`get_accounts`)."""
    if info is None or info.owner != chain.program_id:
        return None
    return decode_account(cls, info.data)


async def load_pool(chain: ChainGateway, pool: Pubkey) -> Pool:
    """The pool at `pool`; `PoolNotFound` if there is none."""
    state = await find_account(chain, Pool, pool)
    if state is None:
        raise PoolNotFound(f"no fedstake pool at {pool}")
    return state


async def find_participant(chain: ChainGateway, pool: Pubkey, wallet: Pubkey) -> Participant | None:
    """`wallet`'s participant account in `pool`, if it has one."""
    return await find_account(chain, Participant, instructions(chain).participant(pool, wallet))


async def load_participant(chain: ChainGateway, pool: Pubkey, wallet: Pubkey) -> Participant:
    """`wallet`'s participant account in `pool`; `ParticipantNotFound` otherwise."""
    state = await find_participant(chain, pool, wallet)
    if state is None:
        raise ParticipantNotFound(f"{wallet} has not joined pool {pool} (or has withdrawn)")
    return state


async def find_round(chain: ChainGateway, pool: Pubkey, number: int) -> Round | None:
    """Round `number` of `pool`, if it was opened."""
    return await find_account(chain, Round, instructions(chain).round(pool, number))


async def find_submission(
    chain: ChainGateway, pool: Pubkey, number: int, wallet: Pubkey
) -> Submission | None:
    """`wallet`'s submission for round `number` of `pool`, if any (and not closed).

    Read at its canonical address; if nothing is there, one filtered
    program-account query finds it at any other bump (`submit_update` takes
    the bump from its caller: a client may have picked another one)."""
    found = await find_account(
        chain, Submission, instructions(chain).submission(pool, number, wallet)
    )
    if found is not None:
        return found
    listed = await list_submissions(chain, pool, number, wallet)
    return listed[0][1] if listed else None


async def list_pools(
    chain: ChainGateway, organization: Pubkey | None = None
) -> list[tuple[Pubkey, Pool]]:
    """Every pool of the program (of `organization` only, if given), by address."""
    equal = {} if organization is None else {"organization": organization}
    return sorted(await _listed(chain, Pool, **equal), key=lambda item: str(item[0]))


async def _listed(chain: ChainGateway, cls: type[T], **equal: object) -> list[tuple[Pubkey, T]]:
    """Every `cls` account whose fields equal `equal`, by address (one filtered query)."""
    found = await chain.program_accounts(account_filters(cls, **equal))
    return [(key, decode_account(cls, info.data)) for key, info in found]


async def list_participants(chain: ChainGateway, pool: Pubkey) -> list[tuple[Pubkey, Participant]]:
    """Every participant account of `pool` (withdrawn ones are closed), ordered by wallet."""
    found = await _listed(chain, Participant, pool=pool)
    return sorted(found, key=lambda item: str(item[1].wallet))


async def list_rounds(chain: ChainGateway, pool: Pubkey) -> list[tuple[Pubkey, Round]]:
    """Every round account `pool` opened, by round number."""
    found = await _listed(chain, Round, pool=pool)
    return sorted(found, key=lambda item: item[1].round)


async def list_submissions(
    chain: ChainGateway,
    pool: Pubkey,
    round_number: int | None = None,
    wallet: Pubkey | None = None,
) -> list[tuple[Pubkey, Submission]]:
    """`pool`'s submissions still open on chain (closed ones are gone), of one
    round and/or one wallet if given, ordered by (round, wallet). One
    `program_accounts` query filtered by discriminator, size and the fields."""
    equal: dict[str, object] = {"pool": pool}
    if round_number is not None:
        equal["round"] = round_number
    if wallet is not None:
        equal["wallet"] = wallet
    found = await _listed(chain, Submission, **equal)
    return sorted(found, key=lambda item: (item[1].round, str(item[1].wallet)))
