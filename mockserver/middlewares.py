"""One error middleware: every failure becomes a JSON error body, never HTML or a traceback."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from .errors import HttpError, MethodNotAllowed, MockServerError, NotFound, PayloadTooLarge
from .keys import SETTINGS

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


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except MockServerError as exc:
        return error_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(_from_http(request, exc))
    except Exception:  # the last line of defence: log it, answer JSON, never a traceback
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(MockServerError("the mock failed unexpectedly; see its log"))
