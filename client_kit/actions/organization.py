"""What an organization does with a pool: create it (with its task package and
its windows), fund it, start training, cancel it while open, close it at the end.

Amounts are lamports, durations seconds, `slash_bps` basis points of a
participant's stake. Program errors come back as `FedstakeProgramError`
(e.g. `InsufficientFunding` from `start_training`); local checks raise the
named errors below before anything is stored or sent. What anyone may do to
end a pool nobody tends (expire, reclaim, settle, close) is in `exits`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from client_kit.accounts import Pool
from client_kit.actions import exits
from client_kit.actions.reads import find_account, instructions, list_pools, load_pool
from client_kit.enums import RewardPolicy
from client_kit.errors import FedstakeError
from client_kit.gateway.base import ChainGateway, TxResult
from client_kit.instructions import PoolParams
from client_kit.storage.base import ContentStore, ProgressCallback
from client_kit.training.task import TaskPackage


class PoolIdTaken(FedstakeError):
    """The organization already has a pool with this id."""


class PoolIdRetired(FedstakeError):
    """The id belonged to a pool that trained and was closed: its round 1 is
    still on chain (provenance), so the program would refuse it (`PoolIdRetired`)."""


@dataclass(frozen=True)
class PoolTerms:
    """What an organization chooses for a pool besides its task.

    reward_per_round and min_stake in lamports; slash_bps in basis points of
    a stake. Durations in seconds, each 1..=31,536,000 (one year) on chain:
    round_duration (the submission/commitment phase), reveal_duration (the
    reveal phase after it), expiry_grace (after a round's reveal deadline, or
    an Open pool's join deadline, before anyone may expire it), claim_window
    (after the pool ends, before anyone may settle participants and close it),
    join_window (the join deadline is the chain's clock plus this).
    reward_policy: how accepted submissions share a round (recorded on chain);
    by default `Contribution` (scores from each update's measured contribution,
    never from claimed sample counts; offchain.aggregation's
    `DEFAULT_REWARD_POLICY`, chosen in bench/results/robustness.md). The
    operator then needs reference data (`--reference-data`). See docs/PROTOCOL.md.
    """

    reward_per_round: int
    max_rounds: int = 3
    round_duration: int = 600
    join_window: int = 3600
    min_stake: int = 100_000_000
    max_participants: int = 20
    slash_bps: int = 5_000
    reveal_duration: int = 300
    expiry_grace: int = 86_400
    claim_window: int = 30 * 86_400
    reward_policy: RewardPolicy = RewardPolicy.CONTRIBUTION

    @property
    def funding_needed(self) -> int:
        """Lamports `start_training` requires in the pool: reward × rounds."""
        return self.reward_per_round * self.max_rounds


@dataclass(frozen=True)
class CreatedPool:
    """A created pool: its address and id, where its task and initial model are
    stored, the initial model's hash (the first base), and the transaction."""

    pool: Pubkey
    pool_id: int
    task_cid: str
    initial_model_cid: str
    initial_model_hash: bytes
    tx: TxResult


@dataclass(frozen=True)
class Funded:
    """A funding transfer and the pool's total funding after it (lamports)."""

    pool: Pubkey
    amount: int
    total_funded: int
    tx: TxResult


async def next_pool_id(chain: ChainGateway, organization: Pubkey) -> int:
    """A pool id `create_pool` accepts for `organization`: neither its pool nor
    its round-1 account exists.

    Starts after the highest id among the organization's open pools (one
    filtered listing) and steps over ids still in use or retired (a pool that
    trained and was closed leaves its rounds on chain), two account reads per
    id tried. Raises `ChainError` from the gateway.
    """
    pools = await list_pools(chain, organization)
    pool_id = max((pool.pool_id for _, pool in pools), default=0) + 1
    while await _id_state(chain, organization, pool_id) is not None:
        pool_id += 1
    return pool_id


async def _id_state(chain: ChainGateway, organization: Pubkey, pool_id: int) -> str | None:
    """None if `pool_id` is free, "taken" if its pool exists, "retired" if only
    its round 1 does."""
    ix = instructions(chain)
    pool = ix.pool(organization, pool_id)
    if await chain.get_account(pool) is not None:
        return "taken"
    if await chain.get_account(ix.round(pool, 1)) is not None:
        return "retired"
    return None


async def create_pool(
    chain: ChainGateway,
    store: ContentStore,
    organization: Keypair,
    task: TaskPackage,
    terms: PoolTerms,
    *,
    pool_id: int | None = None,
    aggregator: Pubkey | None = None,
    progress: ProgressCallback | None = None,
) -> CreatedPool:
    """Stores the task package and its initial weights, then creates the pool.

    `pool_id` defaults to `next_pool_id`; an id the organization already uses
    raises `PoolIdTaken`, one whose pool trained and was closed `PoolIdRetired`,
    both before anything is stored or sent. `aggregator` (default: the
    organization) is the key allowed to judge and finalize; the program
    refuses the default address (`InvalidAggregator`).
    """
    ix = instructions(chain)
    owner = organization.pubkey()
    if pool_id is None:
        pool_id = await next_pool_id(chain, owner)
    pool = ix.pool(owner, pool_id)
    state = await _id_state(chain, owner, pool_id)
    if state == "taken":
        raise PoolIdTaken(f"pool id {pool_id} is taken by {pool}: choose another --pool-id")
    if state == "retired":
        raise PoolIdRetired(
            f"pool id {pool_id} belonged to a pool that trained and was closed: "
            "choose another --pool-id"
        )
    task_cid = await asyncio.to_thread(store.put, task.to_bytes(), progress=progress)
    model_cid = await asyncio.to_thread(store.put, task.initial_weights, progress=progress)
    now = await chain.unix_time()
    params = PoolParams(
        pool_id=pool_id,
        aggregator=aggregator or owner,
        task_cid=task_cid,
        initial_model_hash=task.initial_weights_hash,
        initial_model_cid=model_cid,
        max_rounds=terms.max_rounds,
        round_duration=terms.round_duration,
        join_deadline=now + terms.join_window,
        min_stake=terms.min_stake,
        max_participants=terms.max_participants,
        reward_per_round=terms.reward_per_round,
        slash_bps=terms.slash_bps,
        reveal_duration=terms.reveal_duration,
        expiry_grace=terms.expiry_grace,
        claim_window=terms.claim_window,
        reward_policy=terms.reward_policy,
    )
    tx = await chain.send([ix.create_pool(owner, params)], [organization])
    return CreatedPool(pool, pool_id, task_cid, model_cid, task.initial_weights_hash, tx)


async def fund_pool(chain: ChainGateway, funder: Keypair, pool: Pubkey, amount: int) -> Funded:
    """Moves `amount` lamports from `funder` into the pool (anyone may fund)."""
    await load_pool(chain, pool)
    ix = instructions(chain)
    tx = await chain.send([ix.fund_pool(funder.pubkey(), pool, amount)], [funder])
    state = await find_account(chain, Pool, pool)
    return Funded(pool, amount, state.total_funded if state else 0, tx)


async def start_training(chain: ChainGateway, organization: Keypair, pool: Pubkey) -> TxResult:
    """Closes joining and opens round 1 (funding must cover reward × rounds);
    refused from `join_deadline + expiry_grace` on (`ExpiryReached`)."""
    await load_pool(chain, pool)
    ix = instructions(chain).start_training(organization.pubkey(), pool)
    return await chain.send([ix], [organization])


async def cancel_pool(chain: ChainGateway, organization: Keypair, pool: Pubkey) -> TxResult:
    """Cancels a pool still Open: funding returns, stakes become withdrawable."""
    await load_pool(chain, pool)
    ix = instructions(chain).cancel_pool(organization.pubkey(), pool)
    return await chain.send([ix], [organization])


#: The organization closes its ended pool with the same action anyone may use
#: after the claim window (`exits.close_pool`); everything goes to the organization.
close_pool = exits.close_pool
