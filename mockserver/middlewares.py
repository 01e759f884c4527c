"""One error middleware: every failure becomes a JSON error body, never HTML or a traceback."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from .errors import (
    HttpError,
    MethodNotAllowed,
    MockServerError,
    NotFound,
    PayloadTooLarge,
    RequestTimeout,
    Unauthorized,
)
from .handlers import rejection
from .keys import RECORDER, SETTINGS
from .request_parsing import authenticate

log = logging.getLogger("mockserver")


def error_response(error: MockServerError) -> web.Response:
    return web.json_response(error.body(), status=error.status)


def _from_http(request: web.Request, exc: web.HTTPException) -> MockServerError:
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = sorted(exc.allowed_methods)
        return MethodNotAllowed(
            f"{request.method} is not allowed on {request.path}; use {', '.join(allowed)}",
            {"allowed": allowed},
        )
    if isinstance(exc, web.HTTPNotFound):
        return NotFound(f"no route for {request.method} {request.path}")
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        limit = request.app[SETTINGS].limits.max_body_bytes
        return PayloadTooLarge(
            f"the body is over the limit of {limit} bytes (after decompression)",
            {"limitBytes": limit},
        )
    return HttpError(exc.status, exc.reason)


def _note_unrouted(request: web.Request, error: MockServerError) -> None:
    """A request with a token that matched no route (a wrong path or method) is listed in that
    tenant's /_mock/rejected, so a misconfigured client can see why nothing arrived."""
    try:
        tenant = authenticate(request, request.app[SETTINGS])
    except Unauthorized:
        return
    request.app[RECORDER].reject(tenant, rejection(request, error, b""))


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except MockServerError as exc:
        response = error_response(exc)
        if isinstance(exc, RequestTimeout):  # the rest of a late body is not waited for
            response.force_close()
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        error = _from_http(request, exc)
        if isinstance(error, NotFound | MethodNotAllowed):
            _note_unrouted(request, error)
        response = error_response(error)
        if "Allow" in exc.headers:  # a 405 must say what is allowed (RFC 9110)
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception:  # the last line of defence: log it, answer JSON, never a traceback
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(MockServerError("the mock failed unexpectedly; see its log"))
