"""One router per resource: pools, rounds, participants, submissions; the
feed (`/ws/feed`, `/schema/feed`), health, and the dashboard page."""

from __future__ import annotations

from frontend_api.schemas import ErrorOut

#: OpenAPI `responses` of a route that reads a pool (and maybe more) by address
NOT_FOUND: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorOut, "description": "No such pool (or round, participant, submission)."}
}
