"""httpkit's exception tree. Each problem knows its HTTP status and a default error code; each
server's renderer writes it in that server's own shape (the mock's {"error": {...}}, Segment's
{"code", "message"}). Pure: no aiohttp here, so domain errors may build on it.

HttpProblem
├── UnreadableBody (400)         not readable, not valid gzip/deflate, truncated, trailing bytes
├── InvalidHeader (400)          a header value that is not UTF-8 (guard.py)
├── CrossSiteRequest (403)       an admin route called from another site's page (guard.py)
├── InvalidQueryParameter (400)  a query parameter out of range or of the wrong kind
├── NoRoute (404)                no route for the path
├── MethodNotAllowed (405)       details.allowed lists the methods the path takes
├── BodyTimeout (408)            the body did not all arrive in time; the connection is closed
├── BodyTooLarge (413)           over a size limit, on the wire or once inflated
├── NotJson (415)                an admin route's body that is not application/json (guard.py)
├── MisdirectedRequest (421)     a Host name the server does not serve (guard.py)
└── OtherHttpStatus (any)        a status aiohttp chose before any handler ran

Every exception class name is unique across httpkit, mockserver and connector
(tests/unit/test_exception_names.py): each package's query error has its own name.
"""

from __future__ import annotations

from typing import Any


class HttpProblem(Exception):
    status: int = 400
    code: str = "bad_request"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details if details is not None else {}

    def __init_subclass__(cls, status: int | None = None, code: str | None = None,
                          **kwargs: Any) -> None:
        """`class Gone(HttpProblem, status=410, code="gone")`: a declaration on one line."""
        super().__init_subclass__(**kwargs)
        if status is not None:
            cls.status = status
        if code is not None:
            cls.code = code


class UnreadableBody(HttpProblem, code="unreadable_body"):
    """Not readable as sent: a broken transfer, bad gzip/deflate, truncated, trailing bytes."""


class InvalidHeader(HttpProblem, code="invalid_header"):
    """A header value that is not UTF-8."""


class CrossSiteRequest(HttpProblem, status=403, code="cross_site_request"):
    """An admin route called from another site's page."""


class NotJson(HttpProblem, status=415, code="unsupported_media_type"):
    """An admin body that is not application/json."""


class MisdirectedRequest(HttpProblem, status=421, code="misdirected_request"):
    """A Host name this server does not serve (DNS rebinding)."""


class InvalidQueryParameter(HttpProblem, code="invalid_query"):
    """A query parameter that is unknown, of the wrong kind or out of range."""


class NoRoute(HttpProblem, status=404, code="not_found"):
    """No route for the path."""


class MethodNotAllowed(HttpProblem, status=405, code="method_not_allowed"):
    """A method the path does not take; details.allowed lists those it does."""


class BodyTimeout(HttpProblem, status=408, code="request_timeout"):
    """The body did not all arrive in time; the connection is closed after the answer."""


class BodyTooLarge(HttpProblem, status=413, code="payload_too_large"):
    """Over a size limit, on the wire or once inflated."""


class OtherHttpStatus(HttpProblem):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.code = reason.lower().replace(" ", "_") or "http_error"
