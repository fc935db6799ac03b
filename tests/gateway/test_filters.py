"""Filtered `program_accounts`: the chain returns only what the filters match,
the same on the embedded backend (filtered in process) and over RPC
(`getProgramAccounts` memcmp + dataSize)."""

from __future__ import annotations

import pytest
from solders.keypair import Keypair

from client_kit.accounts import (
    Participant,
    Pool,
    Submission,
    account_filters,
    account_size,
    pool_filters,
)
from client_kit.actions import operator
from client_kit.actions.reads import list_pools
from client_kit.gateway.base import ChainGateway
from client_kit.gateway.filters import DataSize, Memcmp, matches
from tests.pools import SOL, PoolScenario

pytestmark = pytest.mark.timeout(90)


async def test_round_listing_returns_exactly_that_pools_round(
    chain: ChainGateway, tmp_path
) -> None:
    # Given two pools of one organization, each with submissions in round 1
    first = PoolScenario(chain, tmp_path / "store")
    await first.setup()
    second = PoolScenario(chain, tmp_path / "store", organization=first.organization)
    second.aggregator = first.aggregator
    for world in (first, second):
        await world.create(max_rounds=2)
        await world.fund(2 * SOL)
    trainers = [await first.new_trainer() for _ in range(3)]
    for world, members in ((first, trainers), (second, trainers[:1])):
        for trainer in members:
            await world.join(trainer)
        await world.start()
        for trainer in members:
            await world.submit(trainer)
    # When the operator lists round 1 of the first pool
    listed = await operator.round_submissions(chain, first.key, 1)
    # Then it gets exactly that pool's three submissions, in wallet order
    assert [s.wallet for s in listed] == sorted((t.wallet.pubkey() for t in trainers), key=str)
    assert {s.pool for s in listed} == {first.key}
    assert await operator.round_submissions(chain, first.key, 2) == []
    assert len(await operator.round_submissions(chain, second.key, 1)) == 1
    # and the raw query is filtered by the chain, not after the fact
    raw = await chain.program_accounts(account_filters(Submission, pool=first.key, round=1))
    assert len(raw) == 3
    assert len(await chain.program_accounts([DataSize(account_size(Participant))])) >= 4
    # pools by organization
    pools = await list_pools(chain, first.organization.pubkey())
    assert [key for key, _ in pools] == sorted([first.key, second.key], key=str)
    assert await list_pools(chain, Keypair().pubkey()) == []


def test_filters_match_like_getprogramaccounts() -> None:
    data = bytes(range(10))
    assert matches(data, [])
    assert matches(data, [Memcmp(2, bytes([2, 3])), DataSize(10)])
    assert not matches(data, [DataSize(9)])
    assert not matches(data, [Memcmp(9, bytes([9, 10]))])  # runs past the end
    assert not matches(data, [Memcmp(0, bytes([1]))])
    pool_filters = account_filters(Pool, pool_id=7)
    assert pool_filters[1] == DataSize(account_size(Pool))
    assert pool_filters[2] == Memcmp(8 + 32 + 32, (7).to_bytes(8, "little"))


async def test_pool_filters_select_exactly_one_pools_accounts(
    chain: ChainGateway, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    # Given two pools of one organization, each with a participant
    mine = PoolScenario(chain, tmp_path / "store")
    await mine.setup()
    theirs = PoolScenario(chain, tmp_path / "store", organization=mine.organization)
    theirs.aggregator = mine.aggregator
    created = None
    for world in (mine, theirs):
        made = await world.create()
        created = created or made
        await world.join(await world.new_trainer())
    # When listing with the first pool's filter lists (what the watcher subscribes to)
    selected = set()
    for filters in pool_filters(mine.key, mine.organization.pubkey(), created.pool_id):
        selected |= {key for key, _ in await chain.program_accounts(filters)}
    # Then exactly that pool and its participant come back
    assert selected == {mine.key, mine.participant(mine.trainers[0])}
    everything = {key for key, _ in await chain.program_accounts()}
    assert selected < everything and theirs.key in everything
