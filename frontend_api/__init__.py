"""fedstake's HTTP face: a FastAPI app over the operator runtime's bus.

`create_app(settings)` builds it (`frontend_api.app`); `fedstake api serve`
runs it with uvicorn (`frontend_api.cli`, which also composes the `fedstake`
command). REST routes read the chain through `client_kit.actions.reads`;
`/ws/feed` streams the bus; `/` is the dashboard. The names below are
imported on first use, so the CLI does not load FastAPI for other commands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from frontend_api.app import create_app
    from frontend_api.settings import ApiSettings, OperatorHook

__all__ = ["ApiSettings", "OperatorHook", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from frontend_api.app import create_app

        return create_app
    if name in ("ApiSettings", "OperatorHook"):
        from frontend_api import settings

        return getattr(settings, name)
    raise AttributeError(f"module 'frontend_api' has no attribute {name!r}")
