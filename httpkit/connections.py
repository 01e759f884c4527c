"""The connections open at once, managed before aiohttp sees a connection (DESIGN.md, Security:
slow and idle clients must not lock everyone out).

- At most `limit` connections are open, and at most `per_client` of them from one client
  address, so that one client cannot take every slot.
- When a new connection finds no slot (over either limit), the oldest *idle* connection (one
  open between requests, or opened but silent) is closed to make room: the client's own first
  when its address is at its limit, else anyone's. Only when none is idle is the new connection
  answered `refusal` (503, then closed) without reaching the app.
- A request head must be whole within `head_timeout` seconds of its first byte: a head trickled
  byte by byte is closed then (without an answer, as aiohttp does at its idle timeout), whatever
  the idle timeout. The body has its own deadline (bodies.read_body's 408).

A connection is idle from the moment it opens, or its request is answered, to the first byte
of its next request; the middleware (`ConnectionGate.middleware`, the app's outermost) tells
the gate when a request's head has arrived and when it has been answered.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Final, cast

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

REFUSED_LINGER_SECONDS: Final = 1.0  # how long a refused connection is read (and dropped) at most


def refusal(body: dict[str, Any]) -> bytes:
    """The whole answer to a connection over the limit: 503 with `body` as JSON (clients retry a
    503, and Retry-After says when), then the connection closes."""
    data = json.dumps(body).encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\n"
        "Content-Type: application/json; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n"
        f"Content-Length: {len(data)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
    )
    return head.encode("ascii") + data


IDLE, HEAD, BUSY = "idle", "head", "busy"


def _not_serving() -> asyncio.Protocol:
    raise RuntimeError("the gate has no server yet")


class _Connection(asyncio.Protocol):
    """One accepted socket: admitted (aiohttp's protocol gets every callback) or refused
    (answered at once; what the client still sends is read and dropped, so the close is a FIN,
    not a reset that could lose the answer; closed at its EOF or after a second)."""

    def __init__(self, gate: ConnectionGate) -> None:
        self._gate = gate
        self.transport: asyncio.Transport | None = None
        self.inner: asyncio.Protocol | None = None  # None: refused
        self.address = ""
        self.state = IDLE
        self.counted = False  # holds a slot (released once, at eviction or loss)
        self._timer: asyncio.TimerHandle | None = None
        self._deadline = 0.0  # loop time by which the head under way must be whole

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (asyncio's, or uvloop's, which does not subclass it).
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.address = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        self._gate.transports.add(self.transport)
        answer = self._gate.admit(self)
        if answer is not None:
            self.transport.write(answer)
            self.transport.write_eof()
            self._timer = asyncio.get_running_loop().call_later(
                REFUSED_LINGER_SECONDS, self.transport.close)
            return
        self.inner = self._gate.factory()
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self.inner is None:
            return
        if self.state == IDLE:  # the first byte of a request: its head has a deadline
            self._gate.leave_idle(self, HEAD)
            loop = asyncio.get_running_loop()
            self._deadline = loop.time() + self._gate.head_timeout
            if self._timer is None:  # else the one armed for an earlier head moves on (below)
                self._timer = loop.call_at(self._deadline, self._head_late)
        self.inner.data_received(data)

    def _head_late(self) -> None:
        """One timer per connection rather than one per request: a head that arrived whole
        leaves it armed, and when it fires it moves on to the deadline of the head under way,
        if there is one."""
        self._timer = None
        loop = asyncio.get_running_loop()
        # A later request's head (a timer may fire up to a clock tick early: 1 ms of slack).
        if self.state == HEAD and loop.time() + 0.001 < self._deadline:
            self._timer = loop.call_at(self._deadline, self._head_late)
            return
        if self.state == HEAD and self.transport is not None:
            self._gate.log.info("closed a connection from %s: its request head was not whole "
                                "within %g seconds", self.address, self._gate.head_timeout)
            self.transport.close()

    def started(self) -> None:
        """The head of a request has arrived (the app is handling it); its head timer stays
        armed, to find the connection past its head (see _head_late)."""
        self._gate.leave_idle(self, BUSY)

    def answered(self) -> None:
        """The app has answered: idle until the next request's first byte."""
        if self.counted and self.state != IDLE:
            self._gate.become_idle(self)

    def eof_received(self) -> bool | None:
        return None if self.inner is None else self.inner.eof_received()

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._gate.release(self)
        if self.transport is not None:
            self._gate.transports.discard(self.transport)
        if self.inner is not None:
            self.inner.connection_lost(exc)


class ConnectionGate:
    """A protocol factory: at most `limit` connections open, at most `per_client` from one
    address, idle ones closed first to make room, request heads within `head_timeout`."""

    def __init__(self, limit: int, answer: bytes, *, per_client: int | None = None,
                 client_answer: bytes | None = None, head_timeout: float = 10.0,
                 log: logging.Logger | None = None) -> None:
        # aiohttp's protocol factory (the runner's server), set once the runner is set up: the
        # middleware must be in the app before that.
        self.factory: Callable[[], asyncio.Protocol] = _not_serving
        self._limit = limit
        self._answer = answer
        self._per_client = per_client or limit
        self._client_answer = client_answer or answer
        self.head_timeout = head_timeout
        self.log = log or logging.getLogger(__name__)
        self.transports: set[asyncio.Transport] = set()  # every connection not yet lost
        self._by_transport: dict[asyncio.BaseTransport, _Connection] = {}
        self._per_address: dict[str, int] = {}
        # Idle connections, oldest first: all of them, and per address.
        self._idle: OrderedDict[_Connection, None] = OrderedDict()
        self._idle_of: dict[str, OrderedDict[_Connection, None]] = {}
        self.open = 0
        self.evicted = 0  # idle connections closed to make room

    def __call__(self) -> asyncio.Protocol:
        return _Connection(self)

    def admit(self, connection: _Connection) -> bytes | None:
        """Take a slot for `connection` (closing an idle one if need be); None when admitted,
        else the answer to refuse it with. O(1), or O(idle connections) when the oldest idle
        ones are still writing (at most `limit`)."""
        address = connection.address
        if self._per_address.get(address, 0) >= self._per_client and \
                not self._evict(self._idle_of.get(address)):
            return self._client_answer
        if self.open >= self._limit and not self._evict(self._idle):
            return self._answer
        self.open += 1
        self._per_address[address] = self._per_address.get(address, 0) + 1
        connection.counted = True
        assert connection.transport is not None
        self._by_transport[connection.transport] = connection
        self.become_idle(connection)
        return None

    def _evict(self, idle: OrderedDict[_Connection, None] | None) -> bool:
        """Close the oldest idle connection of `idle` that has nothing left to write (an answer
        still in its buffer stays). Frees its slot at once."""
        for connection in list(idle or ()):
            transport = connection.transport
            if transport is not None and transport.get_write_buffer_size() == 0:
                self.release(connection)
                transport.close()
                self.evicted += 1
                return True
        return False

    def become_idle(self, connection: _Connection) -> None:
        connection.state = IDLE
        self._idle[connection] = None
        self._idle_of.setdefault(connection.address, OrderedDict())[connection] = None

    def leave_idle(self, connection: _Connection, state: str) -> None:
        connection.state = state
        self._idle.pop(connection, None)
        idle = self._idle_of.get(connection.address)
        if idle is not None:
            idle.pop(connection, None)
            if not idle:
                del self._idle_of[connection.address]

    def release(self, connection: _Connection) -> None:
        if not connection.counted:
            return
        connection.counted = False
        self.leave_idle(connection, BUSY)
        self.open -= 1
        left = self._per_address[connection.address] - 1
        if left:
            self._per_address[connection.address] = left
        else:
            del self._per_address[connection.address]
        if connection.transport is not None:
            self._by_transport.pop(connection.transport, None)

    def middleware(self) -> Middleware:
        """The app's outermost middleware: tells the gate when a request starts and ends."""

        @web.middleware
        async def connection_state(request: web.Request, handler: Handler
                                   ) -> web.StreamResponse:
            connection = self._by_transport.get(request.transport) \
                if request.transport is not None else None
            if connection is not None:
                connection.started()
            try:
                return await handler(request)
            finally:
                if connection is not None:
                    connection.answered()

        return connection_state

    async def close(self) -> None:
        """After aiohttp's own shutdown: abort what is still open (refused connections still
        lingering, a connection aiohttp closed but whose socket waits for a loop turn) and give
        the loop that turn, so that no socket outlives the server (and its event loop)."""
        for transport in list(self.transports):
            transport.abort()
        await asyncio.sleep(0)
