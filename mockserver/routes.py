"""The route table: data, not code."""

from __future__ import annotations

from aiohttp import web

from . import admin, handlers

ROUTES = [
    web.post("/event", handlers.post_event),
    web.post("/events", handlers.post_events),
    web.get("/_mock/health", admin.get_health),
    web.get("/_mock/events", admin.get_events),
    web.get("/_mock/actor", admin.get_actor),
    web.get("/_mock/actors", admin.get_actors),
    web.get("/_mock/conflicts", admin.get_conflicts),
    web.get("/_mock/rejected", admin.get_rejected),
    web.get("/_mock/stats", admin.get_stats),
    web.post("/_mock/reset", admin.post_reset),
]


def setup_routes(app: web.Application) -> None:
    app.router.add_routes(ROUTES)
