"""`program_accounts(filters=...)` selects the same accounts on every backend."""

from __future__ import annotations

import pytest

from client_kit.filters import pool_filters
from client_kit.gateway.base import ChainGateway
from client_kit.scenario import AsyncPool

pytestmark = pytest.mark.timeout(60)


async def test_pool_filters_select_exactly_one_pools_accounts(chain: ChainGateway) -> None:
    # Given two pools of one organization, each with a participant
    mine = AsyncPool(chain)
    await mine.setup()
    theirs = AsyncPool(chain, mine.organization, mine.aggregator)
    for world in (mine, theirs):
        await world.create()
        await world.join(await world.new_trainer())
    # When listing with the first pool's filter lists
    selected = set()
    for filters in pool_filters(mine.pool, mine.organization.pubkey(), mine.pool_id):
        selected |= {key for key, _ in await chain.program_accounts(filters)}
    # Then exactly that pool and its participant come back (the vault has no data)
    assert selected == {mine.pool, mine.participant(mine.trainers[0])}
    everything = {key for key, _ in await chain.program_accounts()}
    assert selected < everything and theirs.pool in everything
    by_size = await chain.program_accounts([len((await chain.get_account(mine.pool)).data)])
    assert {mine.pool, theirs.pool} <= {key for key, _ in by_size}
