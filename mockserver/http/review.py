"""GET /_mock/snapshot: the tenant's snapshot (review/normal.py), one event per line."""

from __future__ import annotations

from aiohttp import web

from httpkit.query import accepts
from mockserver.errors import InvalidInspectionQuery
from mockserver.http.keys import SERVICE, SETTINGS
from mockserver.http.parsing import authenticate
from mockserver.review import normalise
from mockserver.service.events import EventQuery

CONTENT_TYPE = "application/x-ndjson"
ALL = 2**62


@accepts("eventTimes", "token")
async def get_snapshot(request: web.Request) -> web.Response:
    tenant = authenticate(request, request.app[SETTINGS], allow_query=True)
    times = request.query.get("eventTimes", "keep")
    if times not in ("keep", "drop"):
        raise InvalidInspectionQuery(f"eventTimes must be keep or drop, not {times!r}")
    _, listed = request.app[SERVICE].events(tenant, EventQuery(limit=ALL))
    snapshot = normalise(listed, event_times=times == "keep")
    return web.Response(text=snapshot.text, content_type=CONTENT_TYPE, charset="utf-8")
