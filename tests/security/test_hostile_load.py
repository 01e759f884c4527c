"""Under hostile load: costs that follow the work, not what is stored (issue: linear stitching,
cheap waits, bounded streams, paging in O(limit), no state from refused requests). Complexity is
asserted through counts of work (documents decoded, waiter checks) and bytes held, never time."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import ClientSession, web

from mockserver import server
from mockserver.app import create_app
from mockserver.settings import Settings
from mockserver.store import tenant_key
from mockserver.stream import FEED
from tests.conftest import StartMock, make_event

WAIT = 10.0


@pytest.fixture
def apps(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[web.Application]]:
    """Every app `start_mock` creates, so a test can count the work it did."""
    made: list[web.Application] = []

    def capture(settings: Settings | None = None) -> web.Application:
        made.append(create_app(settings))
        return made[-1]

    monkeypatch.setattr(server, "create_app", capture)
    yield made


def identify(user: str, anonymous: str, n: int = 0) -> dict[str, Any]:
    return make_event(eventType="identify", eventTime=f"2026-11-28T10:{n // 60 % 60:02d}:"
                      f"{n % 60:02d}.000Z", actors={"Customer": {"userId": user,
                                                                 "anonymousId": anonymous}})


async def post(http: ClientSession, url: str, events: list[dict[str, Any]],
               token: str | None = None) -> None:
    headers = {"apiToken": token} if token else None
    async with http.post(f"{url}/events", json=events, headers=headers) as response:
        assert response.status == 202, await response.text()


# -- the live feed: bounded in bytes ----------------------------------------------------------


async def test_a_stalled_subscriber_is_dropped_past_its_byte_limit_and_memory_returns(
    start_mock: StartMock, apps: list[web.Application], token: str, http: ClientSession,
) -> None:
    limit = 64 * 1024
    async with start_mock(stream_queue_bytes=limit) as url:
        feed = apps[0][FEED]
        tenant = tenant_key(token)
        host, port = url.removeprefix("http://").split(":")
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect((host, int(port)))
        stalled.sendall(f"GET /_mock/stream?token={token} HTTP/1.1\r\nHost: {host}\r\n\r\n"
                        .encode())
        assert await feed.wait_for_listeners(tenant, 1, WAIT)
        big = make_event(labels={f"k{i}": "x" * 4000 for i in range(50)})  # ~200 KB each
        sent = 0
        while feed.listeners(tenant) == 1:  # it reads nothing: writes pile up until dropped
            await post(http, url, [big] * 5)
            sent += 1
            assert sent < 200, "never dropped"
            assert feed.pending_bytes() <= limit  # held by the feed: never more than its limit
        assert feed.pending_bytes() == 0
        # It reads at last: what was in flight, then the final dropped message, then the end.
        stalled.setblocking(False)
        received = bytearray()
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(WAIT):
            while chunk := await loop.sock_recv(stalled, 1 << 20):
                received += chunk
        stalled.close()
        assert b'event: dropped\r\n' not in received  # SSE lines end with \n only
        tail = b'event: dropped\ndata: {"reason":"overflow","limitBytes":65536}\n\n'
        assert tail in received
        assert received.rstrip(b"\r\n0").endswith(tail.rstrip(b"\n"))


async def test_a_reset_empties_the_queues_of_its_tenant(
    start_mock: StartMock, apps: list[web.Application], token: str, http: ClientSession,
) -> None:
    async with start_mock() as url:
        feed = apps[0][FEED]
        tenant = tenant_key(token)
        with feed.subscribe(tenant) as subscription:  # a subscriber that never reads
            await post(http, url, [make_event()] * 20)
            assert feed.pending_bytes() > 5_000
            async with http.post(f"{url}/_mock/reset") as response:
                assert response.status == 200
            reset = b"event: reset\ndata: {}\n\n"
            assert feed.pending_bytes() == len(reset)
            assert await subscription.next(0) == [reset]
