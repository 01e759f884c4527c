"""One error middleware for both servers: every failure becomes the server's own JSON error
body, never HTML or a traceback. Each server passes its renderer (its error shape) and hooks."""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from .problems import BodyTimeout, HttpProblem, MethodNotAllowed, NoRoute, OtherHttpStatus

# A server's one renderer: the problem in that server's error shape, with its status.
Render = Callable[[web.Request, HttpProblem], web.Response]
# aiohttp's own HTTP exception (no route, wrong method, too large ...) as a problem.
Translate = Callable[[web.Request, web.HTTPException], HttpProblem]


def from_http_exception(request: web.Request, exc: web.HTTPException) -> HttpProblem:
    """An error status aiohttp raised itself (no route, wrong method, ...), as a problem whose
    message tells the caller what to change."""
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = sorted(exc.allowed_methods)
        return MethodNotAllowed(
            f"{request.method} is not allowed on {request.path}; use {', '.join(allowed)}",
            {"allowed": allowed},
        )
    if isinstance(exc, web.HTTPNotFound):
        return NoRoute(f"no route for {request.method} {request.path}")
    return OtherHttpStatus(exc.status, exc.reason)


def allow_header(problem: HttpProblem) -> dict[str, str]:
    """A 405 must say what is allowed (RFC 9110)."""
    if isinstance(problem, MethodNotAllowed):
        return {"Allow": ", ".join(problem.details["allowed"])}
    return {}


def error_middleware(
    render: Render,
    failure: Callable[[], HttpProblem],
    log: logging.Logger,
    translate: Translate = from_http_exception,
    log_outcomes: bool = False,
) -> Middleware:
    """The middleware: a problem a handler raised is rendered; aiohttp's own error statuses are
    translated first; anything else is logged with its traceback and answered as `failure()`.
    With `log_outcomes`, one INFO line per request (route pattern, status, problem code)."""

    def rendered(request: web.Request, problem: HttpProblem) -> tuple[web.Response, str]:
        response = render(request, problem)
        if isinstance(problem, BodyTimeout):  # the rest of a late body is not waited for
            response.force_close()
        return response, problem.code

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        code = ""
        try:  # one coroutine: the usual answer costs a try block, nothing more
            response = await handler(request)
        except HttpProblem as exc:
            response, code = rendered(request, exc)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            response, code = rendered(request, translate(request, exc))
        except Exception:  # the last line of defence: log it, answer JSON, never a traceback
            log.exception("unexpected error on %s %s", request.method, request.path)
            response, code = rendered(request, failure())
        if log_outcomes and log.isEnabledFor(logging.INFO):  # --log-level info
            # The route's pattern, not the path: a path may hold anything, a token included.
            route = request.match_info.route.resource
            where = route.canonical if route is not None else "(no route)"
            log.info("%s %s %d%s", request.method, where, response.status,
                     f" {code}" if code else "")
        return response

    return middleware
