"""One error middleware: every failure becomes a JSON error body, never HTML or a traceback."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from httpkit.problems import BodyTimeout, HttpProblem, MethodNotAllowed, NoRoute
from httpkit.rendering import allow_header, from_http_exception
from mockserver.errors import MockServerError, PayloadTooLarge, Unauthorized, error_body
from mockserver.http.handlers import rejection
from mockserver.http.keys import SERVICE, SETTINGS
from mockserver.http.parsing import authenticate

log = logging.getLogger("mockserver")


def error_response(problem: HttpProblem) -> web.Response:
    """The mock's one renderer: {"error": {"code", "message", "details"}} with the status."""
    response = web.json_response(error_body(problem), status=problem.status,
                                 headers=allow_header(problem))
    if isinstance(problem, BodyTimeout):  # the rest of a late body is not waited for
        response.force_close()
    response.problem_code = problem.code  # type: ignore[attr-defined]  # for the INFO line
    return response


def _from_http(request: web.Request, exc: web.HTTPException) -> HttpProblem:
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        limit = request.app[SETTINGS].limits.max_body_bytes
        return PayloadTooLarge(
            f"the body is over the limit of {limit} bytes (after decompression)",
            {"limitBytes": limit},
        )
    return from_http_exception(request, exc)


def _note_unrouted(request: web.Request, problem: HttpProblem) -> None:
    """A request with a token that matched no route (a wrong path or method) is listed in that
    tenant's /_mock/rejected, so a misconfigured client can see why nothing arrived."""
    try:
        tenant = authenticate(request, request.app[SETTINGS])
    except Unauthorized:
        return
    request.app[SERVICE].reject(tenant, rejection(request, problem, b""))


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await _answer(request, handler)
    if log.isEnabledFor(logging.INFO):  # --log-level info: one line per request outcome
        code = getattr(response, "problem_code", "")
        # The route's pattern, not the path: a path may hold anything, a token included.
        route = request.match_info.route.resource
        where = route.canonical if route is not None else "(no route)"
        log.info("%s %s %d%s", request.method, where, response.status,
                 f" {code}" if code else "")
    return response


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except HttpProblem as exc:
        return error_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        problem = _from_http(request, exc)
        if isinstance(problem, NoRoute | MethodNotAllowed):
            _note_unrouted(request, problem)
        return error_response(problem)
    except Exception:  # the last line of defence: log it, answer JSON, never a traceback
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(MockServerError("the mock failed unexpectedly; see its log"))
