"""What the mock keeps of a refused request (GET /_mock/rejected and the live feed): shared by
the handlers and the error middleware, which refuses before any handler runs."""

from __future__ import annotations

from aiohttp import web

from httpkit.problems import HttpProblem
from mockserver.errors import public_code
from mockserver.http.keys import SETTINGS
from mockserver.http.parsing import redact, secrets_of
from mockserver.service.events import Rejected
from mockserver.times import now_text


def rejection(request: web.Request, error: HttpProblem, body: bytes) -> Rejected:
    """What /_mock/rejected (and the live feed) shows of a refused request: never a token in
    clear (see parsing.redact), even one the client put in its body or path."""
    settings = request.app[SETTINGS]
    excerpt_chars = settings.limits.excerpt_chars
    secrets = secrets_of(request, settings)
    # Masked before the cut, so a token across the cut cannot leave its first part in clear.
    window = excerpt_chars * 4 + 6 * max(map(len, secrets), default=0)
    excerpt = redact(body[:window].decode("utf-8", "replace"), secrets)[:excerpt_chars]
    return Rejected(
        at=now_text(),
        method=request.method,
        path=redact(request.path, secrets),
        status=error.status,
        code=public_code(error),
        message=redact(error.message, secrets),
        violations=[{name: redact(str(text), secrets) for name, text in violation.items()}
                    for violation in error.details.get("violations", [])],
        excerpt=excerpt,
    )
