"""The operator runtime inside the API's process: an `OperatorHook` around
`offchain.service.OperatorService`.

    settings = ApiSettings(chain=chain, operator=in_process(store, key, service_settings))

The service runs its round coordinators and its payout relayer on the API's
gateway, bus and watcher (a second watcher on the same bus would publish
every account update twice), so the feed carries its `RoundEvaluated`
events and `/ws/payout` relays reveals through its relayer task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from solders.keypair import Keypair

from client_kit.storage.base import ContentStore
from frontend_api.runtime import ApiRuntime
from frontend_api.settings import OperatorHook
from offchain.service import OperatorService, ServiceSettings

log = logging.getLogger(__name__)


def in_process(
    store: ContentStore,
    operator: Keypair,
    settings: ServiceSettings,
    *,
    start_timeout: float = 30.0,
) -> OperatorHook:
    """An `OperatorHook` that runs `OperatorService(chain, store, operator,
    settings)` while the API serves and yields it (its `relay` serves
    `/ws/payout`). Entering raises what the service raises at start
    (`NotTheAggregator`, a chain error) or TimeoutError after
    `start_timeout` seconds; leaving stops it gracefully (the step in flight
    finishes, the journal is closed)."""

    @contextlib.asynccontextmanager
    async def hook(runtime: ApiRuntime) -> AsyncIterator[OperatorService]:
        service = OperatorService(
            runtime.chain, store, operator, settings, bus=runtime.bus, watcher=runtime.watcher
        )
        task = asyncio.create_task(service.run(), name="operator-service")
        try:
            started = asyncio.create_task(service.started.wait())
            try:
                async with asyncio.timeout(start_timeout):
                    await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                started.cancel()
            if task.done():
                task.result()  # a start-up error surfaces here (or it ran and stopped at once:
                # every named pool had ended)
            log.info(
                "operator service started in process", extra={"operator": str(operator.pubkey())}
            )
            yield service
        finally:
            service.stop()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return hook
