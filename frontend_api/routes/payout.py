"""`/ws/payout`: hashed-wallet reveals relayed as `claim_reward`
(`frontend_api.payout`), and `/schema/payout`, the JSON Schema of its frames."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, WebSocket

from frontend_api.deps import Runtime, Settings
from frontend_api.payout import PayoutSession, payout_schema

router = APIRouter(tags=["payout"])


@router.websocket("/ws/payout")
async def payout(websocket: WebSocket, runtime: Runtime, settings: Settings) -> None:
    """Reveals in, `claimed` or named `error` frames out."""
    await PayoutSession(websocket, runtime, settings).serve()


@router.get("/schema/payout", summary="JSON Schema of the /ws/payout frames")
async def schema() -> dict[str, Any]:
    """`server`: the frames the server sends (by `type`); `client`: a reveal."""
    return payout_schema()
