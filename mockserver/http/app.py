"""The app factory: wiring only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from httpkit.guard import Guard
from mockserver.faults import FaultBook
from mockserver.http.keys import FAULTS, SERVICE, SETTINGS, VALIDATOR
from mockserver.http.middlewares import error_middleware
from mockserver.http.routes import setup_routes
from mockserver.http.stream import FEED, Feed, close_streams
from mockserver.service.events import EventService
from mockserver.settings import Settings
from mockserver.validation.events import EventValidator


async def _service_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    app[SERVICE] = EventService.open(
        None if settings.in_memory else Path(settings.db),
        settings.limits.rejected_kept,
        settings.commit_window_seconds,
        settings.compact_min_bytes,
    )
    feed = app[FEED]
    app[SERVICE].listen(feed.publish, feed.listening)  # the live stream (GET /_mock/stream)
    yield
    await app[SERVICE].close()


def create_app(settings: Settings | None = None) -> web.Application:
    settings = settings or Settings()
    guard = Guard.serving(("/_mock/",), settings.host, settings.allow_hosts,
                          settings.allow_origins)
    app = web.Application(
        client_max_size=settings.limits.max_body_bytes,
        middlewares=[error_middleware, guard.middleware()],
        # Bodies are inflated by parsing.read_body: aiohttp's parser would answer an
        # unsupported Content-Encoding (br, zstd) with a plain-text 400 before any handler runs.
        handler_args={"auto_decompress": False},
    )
    app[SETTINGS] = settings
    guard.install(app)
    app[VALIDATOR] = EventValidator(settings.limits)
    app[FAULTS] = FaultBook()
    app[FEED] = Feed(settings.stream_queue_bytes)
    app.on_shutdown.append(close_streams)  # before the server waits on open streams
    app.cleanup_ctx.append(_service_context)
    setup_routes(app)
    return app
