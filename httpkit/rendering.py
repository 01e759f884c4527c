"""aiohttp's own HTTP exceptions as problems, for a server's one error renderer."""

from __future__ import annotations

from aiohttp import web

from .problems import HttpProblem, MethodNotAllowed, NoRoute, OtherHttpStatus


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
