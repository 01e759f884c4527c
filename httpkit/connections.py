"""A limit on the connections open at once, enforced before aiohttp sees a connection."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, Final, cast

REFUSED_LINGER_SECONDS: Final = 1.0  # how long a refused connection is read (and dropped) at most


def refusal(body: dict[str, Any]) -> bytes:
    """The whole answer to a connection over the limit: 503 with `body` as JSON (clients retry a
    503, and Retry-After says when), then the connection closes."""
    data = json.dumps(body).encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\n"
        "Content-Type: application/json; charset=utf-8\r\n"
        f"Content-Length: {len(data)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
    )
    return head.encode("ascii") + data


class _Refused(asyncio.Protocol):
    """Answers at once, reads and drops what the client still sends (so the close is a FIN,
    not a reset that could lose the answer) and closes at its EOF or after a second."""

    def __init__(self, answer: bytes, transports: set[asyncio.Transport]) -> None:
        self._answer = answer
        self._transports = transports
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (asyncio's, or uvloop's, which does not subclass it).
        transport = cast(asyncio.Transport, transport)
        self._transport = transport
        self._transports.add(transport)
        transport.write(self._answer)
        transport.write_eof()
        self._timer = asyncio.get_running_loop().call_later(
            REFUSED_LINGER_SECONDS, transport.close)

    def data_received(self, data: bytes) -> None:
        pass

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._transport is not None:
            self._transports.discard(self._transport)


class _Counted(asyncio.Protocol):
    """Passes every callback to aiohttp's protocol; tells the gate when the connection ends."""

    def __init__(self, inner: asyncio.Protocol, release: Callable[[], None],
                 transports: set[asyncio.Transport]) -> None:
        self._inner = inner
        self._release: Callable[[], None] | None = release
        self._transports = transports
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # asyncio's or uvloop's
        self._transports.add(self._transport)
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._release is not None:
            self._release()
            self._release = None
        if self._transport is not None:
            self._transports.discard(self._transport)
        self._inner.connection_lost(exc)


class ConnectionGate:
    """A protocol factory that lets at most `limit` connections be open at once; each one over
    it gets `answer` (see `refusal`) and is closed, without reaching the app."""

    def __init__(self, factory: Callable[[], asyncio.Protocol], limit: int,
                 answer: bytes) -> None:
        self._factory = factory
        self._limit = limit
        self._answer = answer
        self._transports: set[asyncio.Transport] = set()  # every connection not yet lost
        self.open = 0

    def __call__(self) -> asyncio.Protocol:
        if self.open >= self._limit:
            return _Refused(self._answer, self._transports)
        self.open += 1
        return _Counted(self._factory(), self._release, self._transports)

    def _release(self) -> None:
        self.open -= 1

    async def close(self) -> None:
        """After aiohttp's own shutdown: abort what is still open (refused connections still
        lingering, a connection aiohttp closed but whose socket waits for a loop turn) and give
        the loop that turn, so that no socket outlives the server (and its event loop)."""
        for transport in list(self._transports):
            transport.abort()
        await asyncio.sleep(0)
