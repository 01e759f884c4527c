"""An aiohttp app on a real socket: in the foreground until a signal, or in a thread for
synchronous callers such as pytest."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Final

from aiohttp import web

from .connections import ConnectionGate
from .logs import http_logger

# After an answer that did not read the whole body (a 413 or 400 from the headers, a 408), what
# the client still sends is read and dropped for at most this long, so that it can read the
# answer instead of meeting a reset. aiohttp waits this out at shutdown too, so it stays short.
DRAIN_SECONDS: Final = 2.0


class CannotListen(Exception):
    """The listening socket could not be had (port in use, no such address ...): the CLIs say
    so in one line (arguments.bind_failure) rather than show the OSError's traceback."""

    def __init__(self, host: str, port: int, cause: OSError) -> None:
        super().__init__(f"cannot listen on {host}:{port}: {cause}")
        self.host, self.port, self.cause = host, port, cause


@dataclass(frozen=True, slots=True)
class Listener:
    """Where and how a server listens. idle_timeout is aiohttp's keep-alive timeout, which also
    runs from the moment a connection opens; head_timeout closes a request head not whole that
    long after its first byte; body_timeout bounds the drain after an early answer; a connection
    over max_connections, or over max_per_client from one address (0: max_connections), with no
    idle connection to close in its place, gets `refusal` (`client_refusal`; see
    connections.refusal) and is closed."""

    host: str
    port: int
    idle_timeout: float
    body_timeout: float
    max_connections: int
    refusal: bytes
    log_name: str
    head_timeout: float = 10.0
    max_per_client: int = 0
    client_refusal: bytes = b""


async def _nosniff(request: web.Request, response: web.StreamResponse) -> None:
    """Every answer says its Content-Type is to be believed: a JSON answer that reflects input
    (a path in a 404, a write key) is never sniffed into HTML by a browser."""
    response.headers["X-Content-Type-Options"] = "nosniff"


@asynccontextmanager
async def serving(app: web.Application, listener: Listener) -> AsyncIterator[str]:
    """Serve `app` on listener.host:listener.port (0 picks a free port); yield the base URL."""
    logger = http_logger(listener.log_name)
    gate = ConnectionGate(
        listener.max_connections, listener.refusal, per_client=listener.max_per_client or None,
        client_answer=listener.client_refusal or None, head_timeout=listener.head_timeout,
        log=logger)
    app.middlewares.insert(0, gate.middleware())  # outermost: it sees every request
    app.on_response_prepare.append(_nosniff)
    runner = web.AppRunner(
        app, access_log=None, logger=logger, keepalive_timeout=listener.idle_timeout,
        lingering_time=min(DRAIN_SECONDS, listener.body_timeout),
    )
    await runner.setup()
    assert runner.server is not None  # set by setup()
    gate.factory = runner.server
    server: asyncio.Server | None = None
    try:
        try:
            server = await asyncio.get_running_loop().create_server(
                gate, listener.host, listener.port)
        except OSError as exc:  # socket.gaierror included
            raise CannotListen(listener.host, listener.port, exc) from exc
        host, port = server.sockets[0].getsockname()[:2]
        yield f"http://{host}:{port}"
    finally:
        if server is not None:
            server.close()  # stop accepting; runner.cleanup closes the open connections
        await runner.cleanup()
        await gate.close()


Serve = Callable[[], AbstractAsyncContextManager[str]]


def terminate_as_interrupt() -> None:
    """SIGTERM raises KeyboardInterrupt like SIGINT, so that a CLI stopped by a supervisor
    before or after its servers listen still cleans up and exits 0, not 'Terminated'."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)


async def until_stopped() -> None:
    """Return at the first SIGINT or SIGTERM: a supervisor's stop is a clean exit (0) too."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def serve_until_stopped(serve: Serve, announce: Callable[[str], None]) -> None:
    """Serve until SIGINT or SIGTERM; `announce` gets the base URL once listening."""
    async with serve() as url:
        announce(url)
        await until_stopped()


class BackgroundServer:
    """A server on its own event loop in a thread, for synchronous callers such as pytest.

    `serve` is any factory of an async context manager that serves and yields its base URL
    (the mock's and the gateway's `serving`)."""

    def __init__(self, serve: Serve, name: str = "http-server") -> None:
        self._serve = serve
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
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
