"""Running the gateway on a real socket: for the CLI, the demo and tests. The plumbing
(connection gate, drain, malformed-request log line) is httpkit's."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Final

from httpkit import serving as kit
from httpkit.connections import refusal
from httpkit.serving import DRAIN_SECONDS, Listener

from .app import create_gateway_app
from .keys import HOLDS
from .settings import GatewaySettings

__all__ = ["DRAIN_SECONDS", "HTTP_LOG", "serve_until_stopped", "serving"]

HTTP_LOG: Final = "connector.gateway.http"  # aiohttp's connection-level messages, filtered


def _too_many(limit: int) -> bytes:
    """In Segment's error shape: the official clients retry a 503."""
    return refusal({
        "code": "too_many_connections",
        "message": f"the gateway already has {limit} connections open (its --max-connections "
                   "limit); retry once one closes",
    })


def _too_many_of_one(limit: int) -> bytes:
    return refusal({
        "code": "too_many_connections",
        "message": f"this client address already has {limit} busy connections open (the "
                   "gateway's --max-connections-per-client limit); retry once one closes",
    })


def listener(settings: GatewaySettings) -> Listener:
    return Listener(
        host=settings.host, port=settings.port, idle_timeout=settings.idle_timeout,
        body_timeout=settings.body_timeout, max_connections=settings.max_connections,
        refusal=_too_many(settings.max_connections), log_name=HTTP_LOG,
        head_timeout=settings.head_timeout, max_per_client=settings.max_connections_per_client,
        client_refusal=_too_many_of_one(settings.max_connections_per_client),
    )


@asynccontextmanager
async def serving(settings: GatewaySettings) -> AsyncIterator[str]:
    """Serve on settings.host:settings.port (0 picks a free port); yield the base URL."""
    async with kit.serving(create_gateway_app(settings), listener(settings)) as url:
        yield url


async def serve_until_stopped(
    settings: GatewaySettings, announce: Callable[[str, dict[str, int]], None]
) -> None:
    """Serve until SIGINT or SIGTERM; `announce` gets the base URL once listening, with what
    the outbox held when it opened (pending, deadLettered, dedupIds)."""
    app = create_gateway_app(settings)
    await kit.serve_until_stopped(lambda: kit.serving(app, listener(settings)),
                                  lambda url: announce(url, app[HOLDS]))
