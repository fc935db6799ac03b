"""fedstake's HTTP face: a FastAPI app over the operator runtime's bus.

`create_app(settings)` builds it (`frontend_api.app`); `fedstake api serve`
runs it with uvicorn (`frontend_api.cli`). REST routes read the chain through
`client_kit.actions.reads`; `/ws/feed` streams the bus; `/` is the dashboard.
"""

from __future__ import annotations

from frontend_api.app import create_app
from frontend_api.settings import ApiSettings, OperatorHook

__all__ = ["ApiSettings", "OperatorHook", "create_app"]
