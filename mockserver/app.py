"""The app factory: wiring only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from .keys import RECORDER, SETTINGS, VALIDATOR
from .middlewares import error_middleware
from .recorder import Recorder
from .routes import setup_routes
from .settings import Settings
from .validation import EventValidator


async def _recorder_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    app[RECORDER] = Recorder.open(
        None if settings.in_memory else Path(settings.db),
        settings.limits.rejected_kept,
        settings.commit_window_seconds,
    )
    yield
    await app[RECORDER].close()


def create_app(settings: Settings | None = None) -> web.Application:
    settings = settings or Settings()
    app = web.Application(
        client_max_size=settings.limits.max_body_bytes, middlewares=[error_middleware],
        # Bodies are inflated by request_parsing.read_body: aiohttp's parser would answer an
        # unsupported Content-Encoding (br, zstd) with a plain-text 400 before any handler runs.
        handler_args={"auto_decompress": False},
    )
    app[SETTINGS] = settings
    app[VALIDATOR] = EventValidator(settings.limits)
    app.cleanup_ctx.append(_recorder_context)
    setup_routes(app)
    return app
