"""The live feed: GET /_mock/stream (server-sent events) and the pub/sub behind it.

The recorder calls `Feed.publish` after it applies a write or takes a rejection (see
`Recorder.listen`); each open stream holds a `Subscription` for its tenant and writes what it
receives:

    event: stored      data: {"id", "receivedAt", "eventTime", "event"}   (as GET /_mock/events)
    event: rejected    data: {"at", "method", "path", "status", "code", ...} (as /_mock/rejected)
    event: reset       data: {}                                            (POST /_mock/reset)
    : heartbeat        (a comment, every HEARTBEAT_SECONDS without news)

Nothing old is replayed on connect: a client loads what is stored with GET /_mock/events after
its stream has opened (the subscription exists before the response headers are sent), so it
misses nothing. Memory is bounded: a subscriber more than QUEUE_LIMIT messages behind is
dropped (its stream ends; EventSource reconnects after `retry`, and a client reloads then).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Iterator, Mapping
from typing import Any, Final

from aiohttp import web

from httpkit.query import accepts

from .keys import SETTINGS
from .request_parsing import authenticate

HEARTBEAT_SECONDS: Final = 15.0
# How often an idle stream checks that its client is still there. aiohttp does not cancel a
# handler when its client goes away (unless the whole server runs with handler_cancellation),
# so without this a closed tab would hold its subscription until the next heartbeat.
LIVENESS_SECONDS: Final = 1.0
# Messages one subscriber may have waiting: a 1,000-event batch is one publish burst.
QUEUE_LIMIT: Final = 10_000
RETRY_MS: Final = 1000

STREAM_HEADERS: Final = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",  # a reverse proxy must not buffer the stream
}


def encode(kind: str, data: Mapping[str, Any]) -> bytes:
    """One SSE message. Compact JSON never contains a newline, so one `data:` line suffices."""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"event: {kind}\ndata: {body}\n\n".encode()


class Subscription:
    """One open stream's queue: encoded messages waiting to be written, at most `limit`."""

    def __init__(self, tenant: str, limit: int) -> None:
        self.tenant = tenant
        self._limit = limit
        self._pending: deque[bytes] = deque()
        self._ready = asyncio.Event()
        self.closed = False
        self.reason = ""

    def offer(self, message: bytes) -> bool:
        """Queue `message`; False when the queue is full (the subscriber is too slow)."""
        if len(self._pending) >= self._limit:
            return False
        self._pending.append(message)
        self._ready.set()
        return True

    def close(self, reason: str) -> None:
        if not self.closed:
            self.closed, self.reason = True, reason
            self._pending.clear()
            self._ready.set()

    async def next(self, timeout: float) -> list[bytes]:
        """Everything queued since the last call; empty after `timeout` seconds of silence or
        once closed."""
        if not self._pending and not self.closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), timeout)
        self._ready.clear()
        batch = list(self._pending)
        self._pending.clear()
        return batch


class Feed:
    """Per-tenant publish/subscribe for the live stream."""

    def __init__(self, queue_limit: int = QUEUE_LIMIT) -> None:
        self._queue_limit = queue_limit
        self._subscribers: dict[str, set[Subscription]] = {}
        self._watchers: set[asyncio.Future[None]] = set()
        self._closed = False

    def publish(self, tenant: str, kind: str, data: Mapping[str, Any]) -> None:
        subscribers = self._subscribers.get(tenant)
        if not subscribers:
            return  # nobody listens: not even encoded
        message = encode(kind, data)
        for subscription in list(subscribers):
            if not subscription.offer(message):
                subscription.close("overflow")
                self._remove(subscription)

    @contextlib.contextmanager
    def subscribe(self, tenant: str) -> Iterator[Subscription]:
        """A subscription to `tenant` for the duration of the `with` block."""
        subscription = Subscription(tenant, self._queue_limit)
        if self._closed:
            subscription.close("shutdown")
        else:
            self._subscribers.setdefault(tenant, set()).add(subscription)
            self._changed()
        try:
            yield subscription
        finally:
            subscription.close("unsubscribed")
            self._remove(subscription)

    def listeners(self, tenant: str) -> int:
        return len(self._subscribers.get(tenant, ()))

    async def wait_for_listeners(self, tenant: str, count: int, timeout: float) -> bool:
        """Wait until `tenant` has exactly `count` open streams; False after `timeout`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.listeners(tenant) != count:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            watcher: asyncio.Future[None] = loop.create_future()
            self._watchers.add(watcher)
            try:
                await asyncio.wait_for(watcher, remaining)
            except TimeoutError:
                return self.listeners(tenant) == count
            finally:
                self._watchers.discard(watcher)
        return True

    def close(self) -> None:
        """End every stream (app shutdown) and refuse new ones."""
        self._closed = True
        for subscribers in list(self._subscribers.values()):
            for subscription in list(subscribers):
                subscription.close("shutdown")
                self._remove(subscription)

    def _remove(self, subscription: Subscription) -> None:
        subscribers = self._subscribers.get(subscription.tenant)
        if subscribers is None or subscription not in subscribers:
            return
        subscribers.discard(subscription)
        if not subscribers:
            del self._subscribers[subscription.tenant]
        self._changed()

    def _changed(self) -> None:
        for watcher in self._watchers:
            if not watcher.done():
                watcher.set_result(None)


FEED: Final = web.AppKey("feed", Feed)  # here, not in keys.py: keys → recorder must not import this


def _gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


@accepts("token")
async def get_stream(request: web.Request) -> web.StreamResponse:
    tenant = authenticate(request, request.app[SETTINGS], allow_query=True)
    response = web.StreamResponse(headers=STREAM_HEADERS)
    loop = asyncio.get_running_loop()
    with request.app[FEED].subscribe(tenant) as subscription:
        await response.prepare(request)
        await response.write(f"retry: {RETRY_MS}\n: connected\n\n".encode())
        heartbeat_at = loop.time() + HEARTBEAT_SECONDS
        while True:
            batch = await subscription.next(LIVENESS_SECONDS)
            if subscription.closed or _gone(request):
                break
            if not batch and loop.time() < heartbeat_at:
                continue
            try:
                await response.write(b"".join(batch) or b": heartbeat\n\n")
            except ConnectionResetError:
                break
            heartbeat_at = loop.time() + HEARTBEAT_SECONDS
    return response


async def close_streams(app: web.Application) -> None:
    """on_shutdown: end open streams so the server's shutdown does not wait on them."""
    app[FEED].close()
