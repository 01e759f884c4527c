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

Wiring only: parsing and enrichment are in tracking.py, storage in outbox.py, delivery in
worker.py and client.py; this module connects them to HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Final

import aiohttp
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Handler

from .client import DeliveryClient
from .errors import ConnectorError
from .gateway_settings import GatewaySettings
from .outbox import COUNTERS, Outbox, OutboxError
from .tracking import (
    BATCH_ROUTES,
    ROUTES,
    InvalidRequest,
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


def _ingest(route: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        settings = request.app[SETTINGS]
        limit = settings.limits.request_bytes(route)
        try:
            raw = await request.read()  # the app's client_max_size caps the bytes on the wire
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
    raw = await request.read()
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


ADMIN_ROUTES: Final = [
    web.get("/_gateway/stats", get_stats),
    web.get("/_gateway/dropped", get_dropped),
    web.get("/_gateway/deadletter", get_deadletter),
    web.post("/_gateway/deadletter/redrive", post_redrive),
    web.get("/_gateway/messages/{message_id}", get_message),
    web.get("/_gateway/health", get_health),
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
            try:
                yield
            finally:
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
    return app


@asynccontextmanager
async def serving(settings: GatewaySettings) -> AsyncIterator[str]:
    """Serve on settings.host:settings.port (0 picks a free port); yield the base URL."""
    runner = web.AppRunner(create_gateway_app(settings), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


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
