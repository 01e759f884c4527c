"""The live feed: GET /_mock/stream (server-sent events) and the pub/sub behind it.

The event service calls `Feed.publish` after it applies a write or takes a rejection (see
`EventService.listen`); each open stream holds a `Subscription` for its tenant and writes what it
receives:

    event: stored      data: {"id", "receivedAt", "eventTime", "event"}   (as GET /_mock/events)
    event: rejected    data: {"at", "method", "path", "status", "code", ...} (as /_mock/rejected)
    event: reset       data: {}                                            (POST /_mock/reset)
    : heartbeat        (a comment, every HEARTBEAT_SECONDS without news)

Nothing old is replayed on connect: a client loads what is stored with GET /_mock/events after
its stream has opened (the subscription exists before the response headers are sent), so it
misses nothing. Memory is bounded in bytes: a subscriber with more than its queue limit
(Settings.stream_queue_bytes, 4 MiB by default) waiting is dropped: its stream ends with

    event: dropped     data: {"reason": "overflow", "limitBytes": N}

(EventSource reconnects after `retry`, and a client reloads then). A reset empties the tenant's
queues: what they held is gone from the store too, and the `reset` message says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

from aiohttp import web

from httpkit.query import accepts
from mockserver.http.keys import SETTINGS
from mockserver.http.parsing import authenticate

HEARTBEAT_SECONDS: Final = 15.0
# How often an idle stream checks that its client is still there. aiohttp does not cancel a
# handler when its client goes away (unless the whole server runs with handler_cancellation),
# so without this a closed tab would hold its subscription until the next heartbeat.
LIVENESS_SECONDS: Final = 1.0
# Bytes one subscriber may have waiting: a full 1,000-event batch of small events is one burst.
QUEUE_BYTES: Final = 4 * 1024 * 1024
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
    """One open stream's queue: encoded messages waiting to be written, at most `limit` bytes."""

    def __init__(self, tenant: str, limit: int) -> None:
        self.tenant = tenant
        self.limit = limit
        self._pending: deque[bytes] = deque()
        self.pending_bytes = 0
        self._ready = asyncio.Event()
        self.closed = False
        self.reason = ""
        self._on_close: Callable[[], object] | None = None

    def offer(self, message: bytes) -> bool:
        """Queue `message`; False when it would pass the limit (the subscriber is too slow)."""
        if self.pending_bytes + len(message) > self.limit:
            return False
        self._pending.append(message)
        self.pending_bytes += len(message)
        self._ready.set()
        return True

    def clear(self) -> None:
        self._pending.clear()
        self.pending_bytes = 0

    def on_close(self, callback: Callable[[], object] | None) -> None:
        """Call `callback` if the subscription closes (a write stuck on a stalled client)."""
        self._on_close = callback

    def close(self, reason: str) -> None:
        if not self.closed:
            self.closed, self.reason = True, reason
            self.clear()
            self._ready.set()
            if self._on_close is not None:
                self._on_close()

    async def next(self, timeout: float) -> list[bytes]:
        """Everything queued since the last call; empty after `timeout` seconds of silence or
        once closed."""
        if not self._pending and not self.closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), timeout)
        self._ready.clear()
        batch = list(self._pending)
        self.clear()
        return batch


class Feed:
    """Per-tenant publish/subscribe for the live stream."""

    def __init__(self, queue_limit: int = QUEUE_BYTES) -> None:
        self._queue_limit = queue_limit
        self._subscribers: dict[str, set[Subscription]] = {}
        self._watchers: set[asyncio.Future[None]] = set()
        self._closed = False

    def listening(self, tenant: str) -> bool:
        """Whether a stream of the tenant is open (what the event service asks first). O(1)."""
        return bool(self._subscribers.get(tenant))

    def publish(self, tenant: str, kind: str, data: Mapping[str, Any]) -> None:
        subscribers = self._subscribers.get(tenant)
        if not subscribers:
            return  # nobody listens: not even encoded
        message = encode(kind, data)
        for subscription in list(subscribers):
            if kind == "reset":  # O(1) per queue: what it held was reset too
                subscription.clear()
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

    def pending_bytes(self) -> int:
        """Bytes queued for every subscriber: what the feed holds in memory. O(subscribers)."""
        return sum(s.pending_bytes for subs in self._subscribers.values() for s in subs)

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


FEED: Final = web.AppKey("feed", Feed)  # here, not in keys.py: keys → service must not import this


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
            if not await _write(response, b"".join(batch) or b": heartbeat\n\n", subscription):
                break
            heartbeat_at = loop.time() + HEARTBEAT_SECONDS
        if subscription.reason == "overflow":
            await _drop(response, subscription.limit)
    return response


async def _write(response: web.StreamResponse, data: bytes, subscription: Subscription) -> bool:
    """Write `data`; False when the client is gone or was dropped while its write waited for it
    to read (a stalled client: the write is abandoned, what it held is the transport's)."""
    writing = asyncio.ensure_future(response.write(data))
    subscription.on_close(writing.cancel)
    try:
        await writing
    except ConnectionResetError:
        return False
    except asyncio.CancelledError:
        if not subscription.closed:
            raise  # the handler itself is cancelled
        return False
    finally:
        subscription.on_close(None)
    return True


async def _drop(response: web.StreamResponse, limit: int) -> None:
    """End a dropped stream with its final `event: dropped` message, handed to the transport
    without waiting for a stalled client to read it; the connection closes once it is sent."""
    message = encode("dropped", {"reason": "overflow", "limitBytes": limit})
    response.force_close()
    with contextlib.suppress(TimeoutError, ConnectionError):
        async with asyncio.timeout(0):  # the write is synchronous; only its drain would wait
            await response.write(message)


async def close_streams(app: web.Application) -> None:
    """on_shutdown: end open streams so the server's shutdown does not wait on them."""
    app[FEED].close()
