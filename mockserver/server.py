"""Running the app on a real socket: used by the CLI, the demo and the pytest plugin."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace
from typing import cast

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from .app import create_app
from .settings import Settings

REFUSED_LINGER_SECONDS = 1.0  # how long a refused connection is read (and dropped) at most
# After an answer that did not read the whole body (a 413 from the headers, a 408), what the
# client still sends is read and dropped for at most this long, so that it can read the answer
# instead of meeting a reset. aiohttp waits this out at shutdown too, so it stays short.
DRAIN_SECONDS = 2.0
HTTP_LOG = "mockserver.http"  # aiohttp's connection-level messages, through MalformedRequests


class MalformedRequests(logging.Filter):
    """aiohttp logs a request its parser refuses with a traceback and the offending raw bytes,
    which can be a header line holding a token: keep a one-line warning with the reason only."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            reason = (error.message or "").split("\n", 1)[0]
            reason = reason.split("'", 1)[0].split('"', 1)[0].rstrip(": ")
            peer = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            record.msg = "refused a malformed request from %s: %s %s"
            record.args = (peer, error.code, reason)
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def http_logger() -> logging.Logger:
    logger = logging.getLogger(HTTP_LOG)
    if not any(isinstance(f, MalformedRequests) for f in logger.filters):
        logger.addFilter(MalformedRequests())
    return logger


def refusal(limit: int) -> bytes:
    """The whole answer to a connection over the limit: 503, JSON, then the connection closes."""
    body = json.dumps({"error": {
        "code": "too_many_connections",
        "message": f"the mock already has {limit} connections open (its --max-connections "
                   "limit); retry once one closes",
        "details": {"limitConnections": limit},
    }}).encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\n"
        "Content-Type: application/json; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class _Refused(asyncio.Protocol):
    """Answers `answer` at once, reads and drops what the client still sends (so the close is a
    FIN, not a reset that could lose the answer) and closes at its EOF or after a second."""

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


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[str]:
    """Serve on settings.host:settings.port (0 picks a free port); yield the base URL.

    The server side of the resource limits lives here (see Limits): the idle/header timeout is
    aiohttp's keep-alive timeout, which also runs from the moment a connection opens; an answer
    sent before the whole body arrived is followed by at most DRAIN_SECONDS of draining;
    connections are counted by a ConnectionGate in front of aiohttp's protocol factory.
    """
    limits = settings.limits
    runner = web.AppRunner(
        create_app(settings), access_log=None, logger=http_logger(),
        keepalive_timeout=limits.idle_timeout_seconds,
        lingering_time=min(DRAIN_SECONDS, limits.body_timeout_seconds),
    )
    await runner.setup()
    assert runner.server is not None  # set by setup()
    gate = ConnectionGate(runner.server, limits.max_connections, refusal(limits.max_connections))
    server: asyncio.Server | None = None
    try:
        server = await asyncio.get_running_loop().create_server(
            gate, settings.host, settings.port)
        host, port = server.sockets[0].getsockname()[:2]
        yield f"http://{host}:{port}"
    finally:
        if server is not None:
            server.close()  # stop accepting; runner.cleanup closes the open connections
        await runner.cleanup()
        await gate.close()


class BackgroundServer:
    """A mock on its own event loop in a thread, for synchronous callers such as pytest.

    `serve` runs another server the same way: any factory of an async context manager that
    yields its base URL (the tests use it for the connector's gateway)."""

    def __init__(self, settings: Settings | None = None,
                 serve: Callable[[], AbstractAsyncContextManager[str]] | None = None) -> None:
        self._settings = replace(settings or Settings(), port=(settings.port if settings else 0))
        self._serve = serve or (lambda: serving(self._settings))
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="pointillist-mock", daemon=True)
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self.url = ""

    def _run(self) -> None:
        self._loop.run_until_complete(self._main())

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        try:
            async with self._serve() as url:
                self.url = url
                self._ready.set()
                await self._stop.wait()
        except BaseException as exc:  # surfaced to the starting thread
            self._error = exc
            self._ready.set()

    def start(self) -> BackgroundServer:
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
