"""Reading a request: its tenant, its body and its query, each failure a typed error."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from httpkit import bodies, query
from mockserver.codec import parse_json
from mockserver.errors import (
    InvalidInspectionQuery,
    InvalidJson,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
)
from mockserver.service.events import tenant_key
from mockserver.settings import Limits, Settings
from mockserver.times import format_time, parse_event_time

READ_METHODS = frozenset({"GET", "HEAD"})


def token_of(request: web.Request, allow_query: bool = False) -> str | None:
    token = request.headers.get("apiToken", "").strip()
    if not token:
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            token = credentials.strip()
    if not token and allow_query:  # EventSource cannot send headers
        token = request.query.get("token", "").strip()
    return token or None


MASK = "\u2026"  # an ellipsis
MASK_SHOWN_CHARS = 3  # of a token of at least MASK_MIN_LENGTH characters
MASK_MIN_LENGTH = 12


def mask(token: str) -> str:
    """How a token is shown where people can read it: its first 3 characters and an ellipsis,
    e.g. "t-3…" (only the ellipsis for a token under 12 characters, which 3 would give away)."""
    shown = token[:MASK_SHOWN_CHARS] if len(token) >= MASK_MIN_LENGTH else ""
    return shown + MASK


def secrets_of(request: web.Request, settings: Settings) -> list[str]:
    """The tokens a text about this request must not show: the caller's own, however it was
    sent (header, Bearer or ?token=), and every configured one."""
    caller = token_of(request, allow_query=True)
    return sorted({*settings.tokens, *([caller] if caller else [])}, key=len, reverse=True)


def redact(text: str, secrets: list[str]) -> str:
    """`text` with each secret, as written or as JSON or Python would quote it, masked."""
    for secret in secrets:
        for form in dict.fromkeys((secret, json.dumps(secret)[1:-1], repr(secret)[1:-1])):
            if form and form in text:
                text = text.replace(form, mask(secret))
    return text


def authenticate(request: web.Request, settings: Settings, allow_query: bool = False) -> str:
    """The caller's tenant key; 401 without a token, or with an unknown one in strict mode.

    `allow_query` lets a GET (the dashboard's reads, EventSource) give it as ?token=; a request
    that changes state must send it in a header, which a page on another site cannot set."""
    from_query = allow_query and request.method in READ_METHODS
    token = token_of(request, from_query)
    if token is None:
        if allow_query and not from_query and "token" in request.query:
            raise Unauthorized(f"{request.method} takes the token only from the apiToken header "
                               "(or Authorization: Bearer <token>); ?token= is for GETs")
        raise Unauthorized(
            "missing token: send it in the apiToken header (or Authorization: Bearer <token>)"
        )
    if settings.strict_tokens and token not in settings.tokens:
        raise Unauthorized("unknown token: this mock only accepts the tokens it was started with")
    return tenant_key(token)


def check_headers(request: web.Request, limits: Limits) -> None:
    """Decide what we can before reading the body."""
    content_type = request.headers.get("Content-Type")
    if content_type is not None:
        mime = content_type.split(";", 1)[0].strip().lower()
        if mime != "application/json" and not mime.endswith("+json"):
            raise UnsupportedMediaType(
                f"Content-Type {mime!r} is not JSON; send application/json (or no Content-Type)"
            )
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in bodies.ENCODINGS:
        raise UnsupportedMediaType(
            f"Content-Encoding {encoding!r} is not supported; send gzip, deflate or identity"
        )
    length = request.content_length
    if length is not None and length > limits.max_body_bytes:
        raise PayloadTooLarge(
            f"the body is {length} bytes; the limit is {limits.max_body_bytes}",
            {"limitBytes": limits.max_body_bytes},
        )


async def read_body(request: web.Request, limits: Limits) -> bytes:
    """The body, inflated here (aiohttp's auto_decompress is off, see app.py); 413 over the limit
    on the wire or once inflated, 400 when it cannot be read or inflated, 408 when it has not
    all arrived within the body timeout (a slow or unfinished upload)."""
    body = await bodies.read_body(request, limits.body_timeout_seconds, limits.max_body_bytes)
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding in bodies.COMPRESSED and body:
        return bodies.inflate(body, encoding, limits.max_decompressed_bytes)
    return body


def parse_body(body: bytes) -> Any:
    if not body.strip():
        raise InvalidJson("the body is empty; send a JSON event")
    return parse_json(body)


def int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    return query.int_param(request.query, name, default, low, high)


def float_param(request: web.Request, name: str, default: float, high: float) -> float:
    return query.seconds_param(request.query, name, default, high)


def time_param(request: web.Request, name: str) -> str | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    moment = parse_event_time(raw)
    if moment is None:
        raise InvalidInspectionQuery(
            f"{name} must be a date-time with a zone, e.g. 2026-11-28T10:00:00Z")
    return format_time(moment)
