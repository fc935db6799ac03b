"""How a pool ends when nobody tends it: what anyone may do, whoever went silent.

A keeper (any key willing to pay the fee) calls these; none of them can move
lamports anywhere but to the party the chain records: the organization for
funding and leftovers, the participant's own wallet for its stake. The
windows come from the pool (docs/PROTOCOL.md):

* `expire_round` — a Training pool whose current round passed `expires_at`
  (reveal deadline + expiry_grace) unfinalized becomes Expired;
* `expire_pool` — an Open pool at `join_deadline + expiry_grace` becomes Expired;
* `reclaim_funding` — an ended pool sends the organization what nobody is owed;
* `settle_participant` — after `ended_at + claim_window`, a participant account
  still open is closed: unpaid reward forfeited, stake and rent to its wallet;
* `close_pool` — an ended pool with no participant account left is closed,
  everything to the organization (the organization any time, anyone after the
  claim window).

Each returns what happened with its `TxResult`; the program refuses a call
whose window has not come with a named error (`ExpiryNotReached`,
`ClaimWindowOpen`, `NothingToReclaim`, …) and nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client_kit.actions.reads import instructions, load_pool
from client_kit.events import FundingReclaimed, ParticipantSettled
from client_kit.gateway.base import ChainGateway, TxResult


@dataclass(frozen=True)
class Reclaimed:
    """Funding sent back to the organization (lamports)."""

    pool: Pubkey
    organization: Pubkey
    amount: int
    tx: TxResult


@dataclass(frozen=True)
class Settled:
    """A settled participant: stake returned to its wallet, reward forfeited (lamports)."""

    pool: Pubkey
    wallet: Pubkey
    stake_returned: int
    forfeited: int
    tx: TxResult


async def expire_round(chain: ChainGateway, caller: Keypair, pool: Pubkey) -> TxResult:
    """Expires the pool's current round (the aggregator went silent): the pool
    becomes Expired, stakes withdrawable, accrued rewards stay claimable.
    The program refuses before `expires_at` (`ExpiryNotReached`)."""
    state = await load_pool(chain, pool)
    ix = instructions(chain).expire_round(pool, state.round)
    return await chain.send([ix], [caller])


async def expire_pool(chain: ChainGateway, caller: Keypair, pool: Pubkey) -> TxResult:
    """Expires a pool that never started, from `join_deadline + expiry_grace` on
    (`ExpiryNotReached` before, `InvalidPoolStatus` unless Open)."""
    await load_pool(chain, pool)
    return await chain.send([instructions(chain).expire_pool(pool)], [caller])


async def reclaim_funding(chain: ChainGateway, caller: Keypair, pool: Pubkey) -> Reclaimed:
    """Sends an ended pool's unowed reward balance to its organization
    (`NothingToReclaim` when there is none, e.g. on a second call)."""
    state = await load_pool(chain, pool)
    ix = instructions(chain).reclaim_funding(pool, state.organization)
    tx = await chain.send([ix], [caller])
    amount = sum(e.amount for e in tx.events if isinstance(e, FundingReclaimed))
    return Reclaimed(pool, state.organization, amount, tx)


async def settle_participant(
    chain: ChainGateway, caller: Keypair, pool: Pubkey, wallet: Pubkey
) -> Settled:
    """Closes `wallet`'s participant account after the claim window: unpaid
    reward is forfeited, stake and rent go to `wallet` (`ClaimWindowOpen` before)."""
    await load_pool(chain, pool)
    tx = await chain.send([instructions(chain).settle_participant(pool, wallet)], [caller])
    settled = next(e for e in tx.events if isinstance(e, ParticipantSettled))
    return Settled(pool, wallet, settled.stake_returned, settled.forfeited, tx)


async def close_pool(chain: ChainGateway, closer: Keypair, pool: Pubkey) -> TxResult:
    """Closes an ended pool with no participant account left; every lamport it
    holds goes to the organization. `closer` is the organization (any time)
    or anyone after the claim window (`ClaimWindowOpen` before)."""
    state = await load_pool(chain, pool)
    ix = instructions(chain).close_pool(state.organization, pool, closer.pubkey())
    return await chain.send([ix], [closer])
