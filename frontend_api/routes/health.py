"""`/api/health`: is the chain followed, and how far the bus is."""

from __future__ import annotations

from fastapi import APIRouter

from frontend_api.deps import Runtime, Settings
from frontend_api.schemas import HealthOut

router = APIRouter(tags=["health"])


@router.get("/api/health", response_model=HealthOut, summary="Chain and feed status")
async def health(runtime: Runtime, settings: Settings) -> HealthOut:
    ready = runtime.watcher.ready
    head = runtime.bus.head
    return HealthOut(
        status="ok" if ready else "syncing",
        backend=runtime.backend,  # type: ignore[arg-type]
        program_id=str(runtime.chain.program_id),
        watcher_ready=ready,
        bus_head=None if head is None else str(head),
        bus_published=runtime.bus.published,
        feed_clients=runtime.bus.subscriptions,
        operator=settings.operator is not None,
        payout_relay=runtime.relay is not None,
    )
