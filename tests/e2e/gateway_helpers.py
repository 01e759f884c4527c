"""What the gateway tests share: a real gateway in front of the mock, HTTP calls that check the
JSON answer, the server-side waits on both servers' counters, and the expected shapes.

Waits are server-side: GET /_gateway/stats?min_<counter>=N&timeout=S and the mock's
GET /_mock/events?min_count=N&timeout=S, so no test sleeps.
"""

from __future__ import annotations

import gzip
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from aiohttp import ClientSession, web

from connector.config import DeliveryConfig
from connector.gateway.serving import serving
from connector.gateway.settings import GatewaySettings

Json = dict[str, Any]
T = "2026-11-28T09:00:00.250+01:00"  # a client timestamp, no sentAt: eventTime 08:00:00.250Z
EVENT_TIME = "2026-11-28T08:00:00.250Z"
SUCCESS = {"success": True}
ZERO = {"received": 0, "deduplicated": 0, "dropped": 0, "skipped": 0, "delivered": 0,
        "pending": 0, "deadLettered": 0, "labelsLeftOut": 0,
        "loneSurrogatesRefused": 0}


def counts(**values: int) -> dict[str, int]:
    return {**ZERO, **values}


def fast_delivery(url: str, token: str, **overrides: Any) -> DeliveryConfig:
    """Retries without waiting (backoff 0): tests never sleep."""
    return DeliveryConfig(url=url, token=token, backoff_base=0.0, backoff_max=0.0, **overrides)


@contextmanager
def refusing_socket() -> Iterator[socket.socket]:
    """A socket bound to a free port on 127.0.0.1 but not listening: connecting to the port is
    refused until someone listens on this very socket (e.g. web.SockSite), so no other process
    can take the port in between."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        yield sock
    finally:
        sock.close()


@asynccontextmanager
async def run_gateway(
    pointillist_url: str, token: str, delivery: DeliveryConfig | None = None, **overrides: Any
) -> AsyncIterator[str]:
    """A gateway on an ephemeral port delivering to `pointillist_url`; yields its base URL."""
    settings = GatewaySettings(
        delivery=delivery or fast_delivery(pointillist_url, token), port=0, **overrides)
    async with serving(settings) as url:
        yield url


async def post(
    http: ClientSession, url: str, body: Any = None, *, raw: bytes | None = None,
    compress: bool = False, **headers: str,
) -> tuple[int, Any]:
    data = raw if raw is not None else json.dumps(body).encode()
    if compress:
        data = gzip.compress(data)
        headers["Content-Encoding"] = "gzip"
    headers.setdefault("Content-Type", "application/json")
    async with http.post(url, data=data, headers=headers) as response:
        assert response.content_type == "application/json"
        return response.status, await response.json()


async def get(http: ClientSession, url: str, **params: Any) -> tuple[int, Any]:
    async with http.get(url, params={k: str(v) for k, v in params.items()}) as response:
        assert response.content_type == "application/json"
        return response.status, await response.json()


async def gateway_stats(http: ClientSession, gateway: str, **minimums: int) -> Json:
    """The counters; with minimums (delivered=3 ...), waits server-side until they are met."""
    params: dict[str, Any] = {f"min_{name}": n for name, n in minimums.items()}
    if minimums:
        params["timeout"] = 20
    status, stats = await get(http, f"{gateway}/_gateway/stats", **params)
    assert status == 200
    if minimums:
        assert stats.pop("waitSatisfied") is True, stats
    return dict(stats)


async def mock_events(http: ClientSession, mock: str, min_count: int | None = None) -> list[Json]:
    """The events the mock stored for this test's token, in arrival order."""
    params: dict[str, Any] = {"limit": 10_000}
    if min_count is not None:
        params.update(min_count=min_count, timeout=20)
    status, listed = await get(http, f"{mock}/_mock/events", **params)
    assert status == 200
    if min_count is not None:
        assert listed["minCountReached"] is True, listed
    return [stored["event"] for stored in listed["events"]]


async def mock_stats(http: ClientSession, mock: str) -> Json:
    status, stats = await get(http, f"{mock}/_mock/stats")
    assert status == 200
    return dict(stats)


def event(event_type: str, actor: dict[str, str], labels: dict[str, str] | None = None,
          numbers: dict[str, Any] | None = None, event_time: str = EVENT_TIME) -> Json:
    """A Pointillist event as the mapping rules write it."""
    return {"eventSource": "Segment", "eventType": event_type, "eventTime": event_time,
            "actors": {"Customer": actor}, "labels": labels or {}, "numbers": numbers or {}}


def by_json(events: list[Json]) -> list[Json]:
    return sorted(events, key=lambda e: json.dumps(e, sort_keys=True))


def track(message_id: str, user: str = "u_1", **extra: Any) -> Json:
    return {"type": "track", "event": "Order Completed", "userId": user,
            "messageId": message_id, "timestamp": T, **extra}


@asynccontextmanager
async def serve_event_handler(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> AsyncIterator[str]:
    """A real server on 127.0.0.1 whose POST /event is `handler`; yields its base URL."""
    app = web.Application()
    app.router.add_post("/event", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()
