"""The Segment-compatible gateway: the aiohttp app, its thin handlers and its error shapes.

Routes (Segment's HTTP Tracking API, so an official Segment SDK can use `host=<gateway URL>`):

    POST /v1/batch  /v1/import                                 {"batch": [...], ...}
    POST /v1/identify /v1/track /v1/page /v1/screen /v1/group /v1/alias   one message

Every accepted request is answered exactly `200 {"success": true}`, once its messages are
durable in the outbox; `400 {"code", "message"}` only where Segment answers 400 (unreadable
JSON, a size limit); `401` when write keys are configured and none was offered; `503` when the
outbox cannot be written (official clients retry it).

Administration (`{"error": {"code", "message", "details"}}` on failure, like the mock):

    GET  /_gateway/stats       counters; ?min_<counter>=N&timeout=S waits server-side
    GET  /_gateway/dropped     messages answered 200 but dropped, with the reason
    GET  /_gateway/deadletter  messages whose delivery failed for good, with the last error
    POST /_gateway/deadletter/redrive   all, or {"messageIds": [...]}, back to pending
    GET  /_gateway/messages/{messageId}  where one message is (state, error, enriched body)
    GET  /_gateway/health
    GET  /_gateway/audiences            with --definitions: the Engage definitions and counters
    POST /_gateway/audiences/sync       with --definitions: one sync now, or {"now": "<ISO>"}

Wiring only: parsing and enrichment are in tracking.py, storage in outbox.py, delivery in
worker.py and client.py; this module connects them to HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, Final, cast

import aiohttp
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Handler

from ..client import DeliveryClient
from ..engage.simulator import EngageSimulator, SyncOrderError
from ..errors import ConnectorError
from ..times import format_nanos, parse_timestamp
from .engage import EngageRunner
from .outbox import COUNTERS, Outbox, OutboxError
from .settings import GatewaySettings
from .tracking import (
    BATCH_ROUTES,
    ROUTES,
    InvalidRequest,
    RequestTimeout,
    TrackingError,
    authorize,
    decode_json,
    inflate,
    parse_request,
    prepare,
    write_key_candidates,
)
from .worker import DeliveryWorker

log = logging.getLogger("connector.gateway")

SETTINGS = web.AppKey("gateway_settings", GatewaySettings)
OUTBOX = web.AppKey("gateway_outbox", Outbox)
WORKER = web.AppKey("gateway_worker", DeliveryWorker)
ENGAGE = web.AppKey("gateway_engage", EngageRunner)

SUCCESS: Final = {"success": True}
MAX_PAGE: Final = 10_000
DEFAULT_WAIT: Final = 5.0


class AdminError(ConnectorError):
    status: int = 400
    code = "bad_request"

    def body(self) -> dict[str, Any]:
        return {"error": self.as_dict()}


class InvalidQuery(AdminError):
    code = "invalid_query"


class InvalidBody(AdminError):
    code = "invalid_body"


class NotFound(AdminError):
    status = 404
    code = "not_found"


# -- the Tracking API ---------------------------------------------------------------------------


async def _read_body(request: web.Request) -> bytes:
    """The raw body, which must all arrive within the body timeout: 408, then the connection
    closes, for a slow or unfinished upload."""
    seconds = request.app[SETTINGS].body_timeout
    try:
        async with asyncio.timeout(seconds):
            return await request.read()
    except TimeoutError:
        raise RequestTimeout(f"the body did not arrive within {seconds:g} seconds; "
                             "the connection is closed") from None


def _ingest(route: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        settings = request.app[SETTINGS]
        limit = settings.limits.request_bytes(route)
        # Refused from its head alone when it says it is too long: a plain body over the route's
        # limit, a compressed one over what the gateway reads at all (client_max_size).
        encoded = request.headers.get("Content-Encoding", "").strip().lower() not in (
            "", "identity")
        wire_limit = settings.limits.max_batch_request_bytes if encoded else limit
        if request.content_length is not None and request.content_length > wire_limit:
            raise InvalidRequest(f"the request body is over the limit of {limit} bytes")
        try:
            raw = await _read_body(request)  # client_max_size caps the bytes on the wire
        except web.HTTPRequestEntityTooLarge:
            raise InvalidRequest(
                f"the request body is over the limit of {limit} bytes") from None
        except (HttpProcessingError, web.RequestPayloadError) as exc:
            raise InvalidRequest(f"the body could not be read: {exc}") from None
        body = inflate(raw, request.headers.get("Content-Encoding", ""), limit)
        payload = decode_json(body)
        authorize(write_key_candidates(request.headers.get("Authorization"), payload),
                  settings.write_keys)
        parsed = parse_request(route, payload, settings.limits)
        now = settings.clock()
        entries = prepare(parsed, now, settings.new_id, settings.limits)
        await request.app[OUTBOX].accept(entries, now)
        request.app[WORKER].wake()
        engage = request.app.get(ENGAGE)
        if engage is not None:
            await engage.accepted(entries)
        return web.json_response(SUCCESS)

    handle.__name__ = f"post_{route}"
    return handle


# -- administration -----------------------------------------------------------------------------


def _int_param(request: web.Request, name: str, default: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidQuery(f"{name} must be a whole number, not {raw!r}") from None
    if not 0 <= value <= high:
        raise InvalidQuery(f"{name} must be between 0 and {high}, not {value}")
    return value


def _seconds_param(request: web.Request, name: str, default: float, high: float) -> float:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidQuery(f"{name} must be a number of seconds, not {raw!r}") from None
    if not 0 <= value <= high:
        raise InvalidQuery(f"{name} must be between 0 and {high:g} seconds, not {raw}")
    return value


async def get_stats(request: web.Request) -> web.Response:
    """The counters. With `min_<counter>=N` (e.g. min_delivered=3), waits until every such
    counter has reached its N or `timeout` seconds passed; `waitSatisfied` says which."""
    settings = request.app[SETTINGS]
    wanted: dict[str, int] = {}
    for name in request.query:
        if name.startswith("min_"):
            counter = name[4:]
            if counter not in COUNTERS:
                raise InvalidQuery(f"{name}: no such counter; use min_ with one of "
                                   f"{', '.join(COUNTERS)}", {"counters": list(COUNTERS)})
            wanted[counter] = _int_param(request, name, 0, 2**62)
        elif name != "timeout":
            raise InvalidQuery(f"unknown parameter {name!r}")
    timeout = _seconds_param(request, "timeout", min(DEFAULT_WAIT, settings.max_wait_seconds),
                             settings.max_wait_seconds)
    outbox = request.app[OUTBOX]
    if not wanted:
        return web.json_response(await outbox.stats())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        changed = outbox.changed()  # taken before reading, so no write is missed
        stats = await outbox.stats()
        satisfied = all(stats[name] >= count for name, count in wanted.items())
        remaining = deadline - loop.time()
        if satisfied or remaining <= 0:
            return web.json_response({**stats, "waitSatisfied": satisfied})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), remaining)


async def get_dropped(request: web.Request) -> web.Response:
    limit = _int_param(request, "limit", 100, MAX_PAGE)
    offset = _int_param(request, "offset", 0, 2**62)
    outbox = request.app[OUTBOX]
    total = (await outbox.stats())["dropped"]
    kept, dropped = await outbox.dropped(limit, offset)
    return web.json_response({"total": total, "kept": kept, "dropped": dropped})


async def get_deadletter(request: web.Request) -> web.Response:
    limit = _int_param(request, "limit", 100, MAX_PAGE)
    offset = _int_param(request, "offset", 0, 2**62)
    outbox = request.app[OUTBOX]
    total = (await outbox.stats())["deadLettered"]
    messages = await outbox.deadletters(limit, offset)
    return web.json_response({"total": total, "messages": messages})


async def post_redrive(request: web.Request) -> web.Response:
    """Dead letters back to pending: all of them (no body, or {}), or {"messageIds": [...]}."""
    raw = await _read_body(request)
    ids: list[str] | None = None
    if raw.strip():
        try:
            body = decode_json(raw)
        except InvalidRequest as exc:
            raise InvalidBody(exc.message) from None
        if not isinstance(body, dict) or set(body) - {"messageIds"}:
            raise InvalidBody('the body is {} (every dead letter) or {"messageIds": [...]}')
        if "messageIds" in body:
            given = body["messageIds"]
            if not isinstance(given, list) or not all(isinstance(i, str) for i in given):
                raise InvalidBody("messageIds must be an array of strings")
            ids = given
    outbox = request.app[OUTBOX]
    count, missing = await outbox.redrive(ids, request.app[SETTINGS].clock())
    request.app[WORKER].wake()
    return web.json_response({"redriven": count, "notFound": missing})


async def get_message(request: web.Request) -> web.Response:
    message_id = request.match_info["message_id"]
    found = await request.app[OUTBOX].message(message_id)
    if found is None:
        raise NotFound(f"no message {message_id!r} in the outbox or the dropped list",
                       {"messageId": message_id})
    return web.json_response(found)


async def get_health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def get_audiences(request: web.Request) -> web.Response:
    return web.json_response(request.app[ENGAGE].status())


async def post_audiences_sync(request: web.Request) -> web.Response:
    """One Engage sync at once: at body.now, or at the sync clock's now (gateway_engage.py)."""
    raw = await _read_body(request)
    now = None
    if raw.strip():
        try:
            body = decode_json(raw)
        except InvalidRequest as exc:
            raise InvalidBody(exc.message) from None
        if not isinstance(body, dict) or set(body) - {"now"}:
            raise InvalidBody('the body is {} (sync now) or {"now": "<ISO-8601 date-time>"}')
        if "now" in body:
            now = parse_timestamp(body["now"])
            if now is None:
                raise InvalidBody(f"now must be an ISO-8601 date-time, not {body['now']!r}")
    try:
        emitted = await request.app[ENGAGE].sync(now)
    except SyncOrderError as exc:
        raise InvalidBody(exc.message) from None
    last = request.app[ENGAGE].simulator.last_sync
    return web.json_response({
        "syncedAt": None if last is None else format_nanos(last),
        "emitted": len(emitted), "messageIds": [m["messageId"] for m in emitted],
    })


ADMIN_ROUTES: Final = [
    web.get("/_gateway/stats", get_stats),
    web.get("/_gateway/dropped", get_dropped),
    web.get("/_gateway/deadletter", get_deadletter),
    web.post("/_gateway/deadletter/redrive", post_redrive),
    web.get("/_gateway/messages/{message_id}", get_message),
    web.get("/_gateway/health", get_health),
]
ENGAGE_ROUTES: Final = [  # only when Engage definitions are configured
    web.get("/_gateway/audiences", get_audiences),
    web.post("/_gateway/audiences/sync", post_audiences_sync),
]


# -- errors -------------------------------------------------------------------------------------


def _error(request: web.Request, status: int, code: str, message: str,
           details: dict[str, Any] | None = None) -> web.Response:
    """Segment's {"code", "message"} under /v1/, the mock's {"error": {...}} elsewhere."""
    if request.path.startswith("/v1/"):
        return web.json_response({"code": code, "message": message}, status=status)
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return web.json_response(body, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except RequestTimeout as exc:  # the rest of a late body is not waited for
        response = _error(request, exc.status, exc.code, exc.message)
        response.force_close()
        return response
    except TrackingError as exc:
        return web.json_response(exc.segment_body(), status=exc.status)
    except AdminError as exc:
        return web.json_response(exc.body(), status=exc.status)
    except OutboxError as exc:
        log.error("outbox failure on %s %s: %s", request.method, request.path, exc.message)
        return _error(request, exc.status, exc.code, exc.message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if isinstance(exc, web.HTTPMethodNotAllowed):
            allowed = sorted(exc.allowed_methods)
            response = _error(request, 405, "method_not_allowed",
                              f"{request.method} is not allowed on {request.path}; use "
                              f"{', '.join(allowed)}", {"allowed": allowed})
            response.headers["Allow"] = ", ".join(allowed)
            return response
        if isinstance(exc, web.HTTPNotFound):
            return _error(request, 404, "not_found", f"no route for {request.method} "
                          f"{request.path}")
        return _error(request, exc.status, exc.reason.lower().replace(" ", "_") or "http_error",
                      exc.reason)
    except Exception:  # the last line of defence: log it, answer JSON, never a traceback
        log.exception("unexpected error on %s %s", request.method, request.path)
        return _error(request, 500, "internal", "the gateway failed unexpectedly; see its log")


# -- the app ------------------------------------------------------------------------------------


async def _resources(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    outbox = await Outbox.open(settings.outbox, settings.dedup_window, settings.dropped_kept)
    try:
        async with aiohttp.ClientSession() as session:
            worker = DeliveryWorker(
                outbox, DeliveryClient(session, settings.delivery), settings.mapping,
                settings.clock, settings.chunk_size, settings.worker_error_pause,
            )
            app[OUTBOX] = outbox
            app[WORKER] = worker
            worker.start()
            engage = None
            if settings.definitions is not None:
                engage = app[ENGAGE] = EngageRunner(
                    EngageSimulator(settings.definitions), outbox, worker.wake,
                    timedelta(seconds=settings.sync_every), settings.sync_clock, settings.clock)
                engage.start()
            try:
                yield
            finally:
                if engage is not None:
                    await engage.stop()
                await worker.stop()
    finally:
        await outbox.close()


def create_gateway_app(settings: GatewaySettings) -> web.Application:
    app = web.Application(
        client_max_size=settings.limits.max_batch_request_bytes,
        middlewares=[error_middleware],
        # Bodies are inflated by tracking.inflate, after the size check on the wire.
        handler_args={"auto_decompress": False},
    )
    app[SETTINGS] = settings
    app.cleanup_ctx.append(_resources)
    for route in sorted(ROUTES, key=lambda r: (r not in BATCH_ROUTES, r)):
        app.router.add_post(f"/v1/{route}", _ingest(route))
    app.router.add_routes(ADMIN_ROUTES)
    if settings.definitions is not None:
        app.router.add_routes(ENGAGE_ROUTES)
    return app


# -- connections --------------------------------------------------------------------------------

REFUSED_LINGER_SECONDS: Final = 1.0  # how long a refused connection is read (and dropped) at most
HTTP_LOG: Final = "connector.gateway.http"  # aiohttp's connection-level messages, filtered
# After an answer that did not read the whole body (a 400 from the headers, a 408), what the
# client still sends is read and dropped for at most this long, so that it can read the answer
# instead of meeting a reset. aiohttp waits this out at shutdown too, so it stays short.
DRAIN_SECONDS: Final = 2.0


class MalformedRequests(logging.Filter):
    """aiohttp logs a request its parser refuses with a traceback and the offending raw bytes,
    which can be a header line holding a write key: keep a one-line warning with the reason."""

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
    """The whole answer to a connection over the limit: 503 (official clients retry it) in
    Segment's error shape, then the connection closes."""
    body = json.dumps({
        "code": "too_many_connections",
        "message": f"the gateway already has {limit} connections open (its --max-connections "
                   "limit); retry once one closes",
    }).encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\n"
        "Content-Type: application/json; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


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
    it gets `refusal(limit)` and is closed, without reaching the app."""

    def __init__(self, factory: Callable[[], asyncio.Protocol], limit: int) -> None:
        self._factory = factory
        self._limit = limit
        self._answer = refusal(limit)
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
async def serving(settings: GatewaySettings) -> AsyncIterator[str]:
    """Serve on settings.host:settings.port (0 picks a free port); yield the base URL.

    idle_timeout is aiohttp's keep-alive timeout, which also runs from the moment a connection
    opens (a slow request head is closed by it); an answer sent before the whole body arrived
    is followed by at most DRAIN_SECONDS of draining; a ConnectionGate counts the connections.
    """
    runner = web.AppRunner(
        create_gateway_app(settings), access_log=None, logger=http_logger(),
        keepalive_timeout=settings.idle_timeout,
        lingering_time=min(DRAIN_SECONDS, settings.body_timeout),
    )
    await runner.setup()
    assert runner.server is not None  # set by setup()
    gate = ConnectionGate(runner.server, settings.max_connections)
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


async def serve_until_stopped(
    settings: GatewaySettings, announce: Callable[[str], None]
) -> None:
    """Serve until SIGINT or SIGTERM; `announce` gets the base URL once listening."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with serving(settings) as url:
        announce(url)
        await stop.wait()
