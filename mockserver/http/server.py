"""Running the mock on a real socket: used by the CLI, the demo and the pytest plugin. The
plumbing (connection gate, drain, malformed-request log line, threads) is httpkit's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Final

from aiohttp import web

from httpkit.connections import refusal
from httpkit.serving import DRAIN_SECONDS, Listener
from httpkit.serving import BackgroundServer as _BackgroundServer
from httpkit.serving import serving as _serving
from mockserver.http.app import create_app
from mockserver.settings import Settings

__all__ = ["DRAIN_SECONDS", "HTTP_LOG", "BackgroundServer", "serving"]

HTTP_LOG: Final = "mockserver.http"  # aiohttp's connection-level messages, filtered


def _too_many(limit: int) -> bytes:
    return refusal({"error": {
        "code": "too_many_connections",
        "message": f"the mock already has {limit} connections open (its --max-connections "
                   "limit); retry once one closes",
        "details": {"limitConnections": limit},
    }})


def _too_many_of_one(limit: int) -> bytes:
    return refusal({"error": {
        "code": "too_many_connections",
        "message": f"this client address already has {limit} busy connections open (the "
                   "mock's --max-connections-per-client limit); retry once one closes",
        "details": {"limitConnectionsPerClient": limit},
    }})


@asynccontextmanager
async def serving(settings: Settings, app: web.Application | None = None) -> AsyncIterator[str]:
    """Serve `app` (by default create_app(settings)) on settings.host:settings.port (0 picks a
    free port); yield the base URL."""
    limits = settings.limits
    listener = Listener(
        host=settings.host, port=settings.port, idle_timeout=limits.idle_timeout_seconds,
        body_timeout=limits.body_timeout_seconds, max_connections=limits.max_connections,
        refusal=_too_many(limits.max_connections), log_name=HTTP_LOG,
        head_timeout=limits.head_timeout_seconds,
        max_per_client=limits.max_connections_per_client,
        client_refusal=_too_many_of_one(limits.max_connections_per_client),
    )
    async with _serving(app or create_app(settings), listener) as url:
        yield url


class BackgroundServer(_BackgroundServer):
    """A mock on its own event loop in a thread, for synchronous callers such as pytest."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = replace(settings or Settings(), port=(settings.port if settings else 0))
        super().__init__(lambda: serving(self.settings), name="pointillist-mock")
