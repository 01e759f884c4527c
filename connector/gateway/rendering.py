"""The gateway's one error renderer: Segment's {"code", "message"} under /v1/ and Segment's CDN
paths (what the official clients read), {"error": {"code", "message", "details"}} elsewhere
(like the mock's admin API). Never HTML, never a traceback: httpkit.rendering's middleware."""

from __future__ import annotations

import logging
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Middleware

from httpkit import rendering
from httpkit.problems import HttpProblem

from ..errors import GatewayError, OutboxError

log = logging.getLogger("connector.gateway")
SEGMENT_PREFIXES: Final = ("/v1/", "/analytics.js/", "/analytics-next/")


def error_response(request: web.Request, problem: HttpProblem) -> web.Response:
    if isinstance(problem, OutboxError):  # the operator must see it: the outbox is the promise
        log.error("outbox failure on %s %s: %s", request.method, request.path, problem.message)
    if request.path.startswith(SEGMENT_PREFIXES):
        body: dict[str, object] = {"code": problem.code, "message": problem.message}
    else:
        body = {"error": {"code": problem.code, "message": problem.message,
                          "details": problem.details}}
    return web.json_response(body, status=problem.status,
                             headers=rendering.allow_header(problem))


def _failure() -> HttpProblem:
    return GatewayError("the gateway failed unexpectedly; see its log")


error_middleware: Middleware = rendering.error_middleware(error_response, _failure, log)
