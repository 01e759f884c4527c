"""The mock's error middleware (httpkit.rendering's, with the mock's renderer and hooks): every
failure becomes {"error": {"code", "message", "details"}}, never HTML or a traceback."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Middleware

from httpkit import rendering
from httpkit.problems import HttpProblem, MethodNotAllowed, NoRoute
from mockserver.errors import MockServerError, PayloadTooLarge, Unauthorized, error_body
from mockserver.http.keys import SERVICE, SETTINGS
from mockserver.http.parsing import authenticate
from mockserver.http.rejections import rejection

log = logging.getLogger("mockserver")


def error_response(request: web.Request, problem: HttpProblem) -> web.Response:
    """The mock's one renderer: {"error": {"code", "message", "details"}} with the status."""
    return web.json_response(error_body(problem), status=problem.status,
                             headers=rendering.allow_header(problem))


def _from_http(request: web.Request, exc: web.HTTPException) -> HttpProblem:
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        limit = request.app[SETTINGS].limits.max_body_bytes
        return PayloadTooLarge(
            f"the body is over the limit of {limit} bytes (after decompression)",
            {"limitBytes": limit},
        )
    problem = rendering.from_http_exception(request, exc)
    if isinstance(problem, NoRoute | MethodNotAllowed):
        _note_unrouted(request, problem)
    return problem


def _note_unrouted(request: web.Request, problem: HttpProblem) -> None:
    """A request with a token that matched no route (a wrong path or method) is listed in that
    tenant's /_mock/rejected, so a misconfigured client can see why nothing arrived."""
    try:
        tenant = authenticate(request, request.app[SETTINGS])
    except Unauthorized:
        return
    request.app[SERVICE].reject(tenant, rejection(request, problem, b""))


def _failure() -> HttpProblem:
    return MockServerError("the mock failed unexpectedly; see its log")


error_middleware: Middleware = rendering.error_middleware(
    error_response, _failure, log, translate=_from_http, log_outcomes=True)
