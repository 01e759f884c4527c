"""The gateway's one error renderer: Segment's {"code", "message"} under /v1/ and Segment's CDN
paths (what the official clients read), {"error": {"code", "message", "details"}} elsewhere
(like the mock's admin API). Never HTML, never a traceback."""

from __future__ import annotations

import logging
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler

from httpkit.problems import BodyTimeout, HttpProblem
from httpkit.rendering import allow_header, from_http_exception

from ..errors import GatewayError, OutboxError

log = logging.getLogger("connector.gateway")
SEGMENT_PREFIXES: Final = ("/v1/", "/analytics.js/", "/analytics-next/")


def error_response(request: web.Request, problem: HttpProblem) -> web.Response:
    if request.path.startswith(SEGMENT_PREFIXES):
        body: dict[str, object] = {"code": problem.code, "message": problem.message}
    else:
        body = {"error": {"code": problem.code, "message": problem.message,
                          "details": problem.details}}
    response = web.json_response(body, status=problem.status, headers=allow_header(problem))
    if isinstance(problem, BodyTimeout):  # the rest of a late body is not waited for
        response.force_close()
    return response


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except OutboxError as exc:
        log.error("outbox failure on %s %s: %s", request.method, request.path, exc.message)
        return error_response(request, exc)
    except HttpProblem as exc:
        return error_response(request, exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(request, from_http_exception(request, exc))
    except Exception:  # the last line of defence: log it, answer JSON, never a traceback
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(request, GatewayError(
            "the gateway failed unexpectedly; see its log"))
