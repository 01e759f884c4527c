"""The route table: data, not code."""

from __future__ import annotations

from aiohttp import web

from mockserver import dashboard
from mockserver.http import admin, handlers, review, stream
from mockserver.http import faults as fault_http

ROUTES = [
    web.post("/event", handlers.post_event),
    web.post("/events", handlers.post_events),
    web.get("/_mock/health", admin.get_health),
    web.get("/_mock/events", admin.get_events),
    web.get("/_mock/actor", admin.get_actor),
    web.get("/_mock/actors", admin.get_actors),
    web.get("/_mock/labels/history", admin.get_label_history),
    web.get("/_mock/conflicts", admin.get_conflicts),
    web.get("/_mock/rejected", admin.get_rejected),
    web.get("/_mock/stats", admin.get_stats),
    web.get("/_mock/snapshot", review.get_snapshot),
    web.post("/_mock/reset", admin.post_reset),
    web.get("/_mock/faults", fault_http.get_faults),
    web.post("/_mock/faults", fault_http.post_fault),
    web.delete("/_mock/faults", fault_http.delete_faults),
    web.get("/_mock/stream", stream.get_stream),
]

# The dashboard: a page, not an API, so in no OpenAPI file (docs/inspection-api.md).
PAGES = [
    web.get("/", dashboard.get_page),
    web.get("/dashboard/{name}", dashboard.get_asset),
]


def setup_routes(app: web.Application) -> None:
    app.router.add_routes(ROUTES)
    app.router.add_routes(PAGES)
