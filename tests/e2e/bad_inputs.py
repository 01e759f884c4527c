"""The bad-input corpus for the ingest API: each malformed request and exactly what it earns.

Every case is sent with (unless `token=False`) a fresh tenant's token, and the test checks the
status, the JSON error body, that nothing was stored, that the rejection is listed in
/_mock/rejected, and that the server still takes a valid event afterwards.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from tests.conftest import make_event

MIB = 1024 * 1024
LIMIT_BYTES = {"limitBytes": MIB}
JSON = {"Content-Type": "application/json"}

# Transports: "client" is aiohttp's ClientSession; "raw" writes the request bytes itself on an
# asyncio socket (for what the client will not send: a Content-Length over the bytes sent);
# "chunked" streams the body with Transfer-Encoding: chunked.
Transport = Literal["client", "raw", "chunked"]


@dataclass(frozen=True)
class BadInput:
    id: str
    status: int
    code: str
    body: bytes = b""
    path: str = "/event"
    method: str = "POST"
    headers: Mapping[str, str] = field(default_factory=lambda: dict(JSON))
    token: bool = True
    transport: Transport = "client"
    # (JSON path, words its message must contain), exactly these paths in this order...
    violations: tuple[tuple[str, str], ...] = ()
    # ...and exactly these other details.
    details: Mapping[str, Any] = field(default_factory=dict)
    # Words the error message must contain; by default, for violations, the first one's
    # "path: words" (the message summarises the first violation).
    says: str = ""
    response_headers: Mapping[str, str] = field(default_factory=dict)


def event(**overrides: Any) -> bytes:
    return json.dumps(make_event(**overrides)).encode()


def without(name: str) -> bytes:
    document = make_event()
    del document[name]
    return json.dumps(document).encode()


def with_text(text: str) -> bytes:
    """A valid event whose eventType is replaced by raw JSON `text` (for non-JSON literals)."""
    return event(eventType="@@").replace(b'"@@"', text.encode())


def numbers(value: Any) -> bytes:
    return event(numbers={"revenue": value})


def labels(value: Any) -> bytes:
    return event(labels={"plan": value})


def identifiers(value: Any) -> bytes:
    return event(actors={"Customer": {"userId": value}})


def event_time(value: str) -> bytes:
    return event(eventTime=value)


def invalid(path: str, words: str) -> tuple[tuple[str, str], ...]:
    return ((path, words),)


VALID = event()


def padded(size: int) -> bytes:
    """The valid event, padded with JSON whitespace to exactly `size` bytes: only its size is
    wrong."""
    return VALID[:-1] + b" " * (size - len(VALID)) + b"}"


NOT_JSON = "invalid_json"
INVALID = "invalid_payload"
MEDIA = "unsupported_media_type"
TOO_LARGE = "payload_too_large"
BATCH_ITEM = json.loads(VALID)
MULTIPART = b'--b\r\nContent-Disposition: form-data; name="e"\r\n\r\n' + VALID + b"\r\n--b--\r\n"
BATCH_SHAPE = "POST /events takes a non-empty JSON array of events"

CASES: list[BadInput] = [
    # -- not JSON ------------------------------------------------------------------------------
    BadInput("truncated-json", 400, NOT_JSON, VALID[:40], says="not valid JSON"),
    BadInput("trailing-garbage", 400, NOT_JSON, VALID + b" }{", says="Extra data"),
    BadInput("single-quotes", 400, NOT_JSON, b"{'eventType': 'Order Completed'}",
             says="double quotes"),
    BadInput("invalid-utf8-byte", 400, NOT_JSON, labels("caf\u00e9").replace(b"\\u00e9", b"\xe9"),
             says="not valid UTF-8"),
    BadInput("lone-surrogate-escape", 400, NOT_JSON, labels("\ud800"),
             says="lone surrogate escape \\ud800"),
    BadInput("empty-body", 400, NOT_JSON, b"", says="empty"),
    BadInput("whitespace-body", 400, NOT_JSON, b" \r\n\t ", says="empty"),
    BadInput("nan-literal", 400, NOT_JSON, numbers(float("nan")), says="NaN is not a JSON number"),
    BadInput("infinity-literal", 400, NOT_JSON, numbers(float("inf")),
             says="Infinity is not a JSON number"),
    BadInput("minus-infinity-literal", 400, NOT_JSON, numbers(float("-inf")),
             says="-Infinity is not a JSON number"),
    BadInput("integer-with-5000-digits", 400, NOT_JSON, with_text("9" * 5000),
             says="Exceeds the limit"),
    BadInput("nested-100000-deep", 400, NOT_JSON,
             event(labels="@@").replace(b'"@@"', b"[" * 100_000 + b"]" * 100_000),
             says="not valid JSON"),
    # -- JSON, but not an event ----------------------------------------------------------------
    BadInput("body-is-array", 400, INVALID, b'[{"eventType": "Order Completed"}]',
             violations=invalid("$", 'is not of type "object"')),
    BadInput("body-is-string", 400, INVALID, b'"Order Completed"',
             violations=invalid("$", 'is not of type "object"')),
    BadInput("body-is-number", 400, INVALID, b"42",
             violations=invalid("$", 'is not of type "object"')),
    BadInput("body-is-null", 400, INVALID, b"null",
             violations=invalid("$", 'is not of type "object"')),
    BadInput("number-1e400", 400, INVALID, numbers("@@").replace(b'"@@"', b"1e400"),
             violations=invalid("$.numbers.revenue", "is not a finite number")),
    BadInput("number-non-numeric-string", 400, INVALID, numbers("forty-two"),
             violations=invalid("$.numbers.revenue", "is not a finite number")),
    BadInput("number-boolean", 400, INVALID, numbers(True),
             violations=invalid("$.numbers.revenue", 'is not of type "number", "string"')),
    BadInput("number-object", 400, INVALID, numbers({"amount": 42.5}),
             violations=invalid("$.numbers.revenue", 'is not of type "number", "string"')),
    BadInput("label-object", 400, INVALID, labels({"tier": "gold"}),
             violations=invalid("$.labels.plan", 'is not of type "string", "number", "boolean"')),
    BadInput("label-array", 400, INVALID, labels(["pro", "team"]),
             violations=invalid("$.labels.plan", 'is not of type "string", "number", "boolean"')),
    BadInput("labels-block-array", 400, INVALID, event(labels=["plan", "pro"]),
             violations=invalid("$.labels", 'is not of type "object"')),
    BadInput("missing-eventType", 400, INVALID, without("eventType"),
             violations=invalid("$.eventType", '"eventType" is a required property')),
    BadInput("missing-eventTime", 400, INVALID, without("eventTime"),
             violations=invalid("$.eventTime", '"eventTime" is a required property')),
    BadInput("missing-actors", 400, INVALID, without("actors"),
             violations=invalid("$.actors", '"actors" is a required property')),
    BadInput("missing-all-three", 400, INVALID, b'{"eventSource": "Segment"}',
             violations=(("$.eventType", '"eventType" is a required property'),
                         ("$.eventTime", '"eventTime" is a required property'),
                         ("$.actors", '"actors" is a required property'))),
    BadInput("empty-actors", 400, INVALID, event(actors={}),
             violations=invalid("$.actors", "should be non-empty")),
    BadInput("actor-with-no-identifiers", 400, INVALID, event(actors={"Customer": {}}),
             violations=invalid("$.actors.Customer", "should be non-empty")),
    BadInput("empty-identifier", 400, INVALID, identifiers(""),
             violations=invalid("$.actors.Customer.userId", "should be non-empty")),
    BadInput("blank-identifier", 400, INVALID, identifiers("   "),
             violations=invalid("$.actors.Customer.userId", "identifier must not be blank")),
    BadInput("numeric-identifier", 400, INVALID, identifiers(42),
             violations=invalid("$.actors.Customer.userId", '42 is not of type "string"')),
    BadInput("eventTime-without-zone", 400, INVALID, event_time("2026-11-28T10:00:00"),
             violations=invalid("$.eventTime", "is not a date-time with a zone")),
    BadInput("eventTime-garbage", 400, INVALID, event_time("yesterday at noon"),
             violations=invalid("$.eventTime", "is not a date-time with a zone")),
    BadInput("eventTime-date-only", 400, INVALID, event_time("2026-11-28"),
             violations=invalid("$.eventTime", "is not a date-time with a zone")),
    BadInput("eventTime-impossible-date", 400, INVALID, event_time("2026-02-30T10:00:00Z"),
             violations=invalid("$.eventTime", "is not a date-time with a zone")),
    BadInput("eventTime-number", 400, INVALID, event(eventTime=1764324000),
             violations=invalid("$.eventTime", 'is not of type "string"')),
    BadInput("eventType-256-chars", 400, INVALID, event(eventType="e" * 256),
             violations=invalid("$.eventType", "longer than 255 characters")),
    BadInput("identifier-256-chars", 400, INVALID, identifiers("u" * 256),
             violations=invalid("$.actors.Customer.userId", "longer than 255 characters")),
    BadInput("label-value-32769-chars", 400, INVALID, labels("v" * 32769),
             violations=invalid("$.labels.plan", "longer than 32768 characters")),
    BadInput("unknown-top-level-property", 400, INVALID, event(userId="u_1"),
             violations=invalid("$", '("userId" was unexpected)')),
    # -- headers -------------------------------------------------------------------------------
    BadInput("content-type-text-plain", 415, MEDIA, VALID, headers={"Content-Type": "text/plain"},
             says="'text/plain' is not JSON"),
    BadInput("content-type-form-urlencoded", 415, MEDIA, b"eventType=Order+Completed",
             headers={"Content-Type": "application/x-www-form-urlencoded"},
             says="'application/x-www-form-urlencoded' is not JSON"),
    BadInput("content-type-multipart", 415, MEDIA,
             MULTIPART,
             headers={"Content-Type": "multipart/form-data; boundary=b"},
             says="'multipart/form-data' is not JSON"),
    BadInput("content-encoding-br", 415, MEDIA, b"\x1b\x00\x00",
             headers={**JSON, "Content-Encoding": "br"}, says="Content-Encoding 'br'"),
    BadInput("content-encoding-zstd", 415, MEDIA, b"\x28\xb5\x2f\xfd",
             headers={**JSON, "Content-Encoding": "zstd"}, says="Content-Encoding 'zstd'"),
    BadInput("content-encoding-compress", 415, MEDIA, b"\x1f\x9d\x90",
             headers={**JSON, "Content-Encoding": "compress"}, says="Content-Encoding 'compress'"),
    BadInput("idempotency-key-256-chars", 400, "bad_request", VALID,
             headers={**JSON, "Idempotency-Key": "k" * 256}, says="1 to 255 characters"),
    BadInput("idempotency-key-blank", 400, "bad_request", VALID,
             headers={**JSON, "Idempotency-Key": "  "}, says="1 to 255 characters"),
    BadInput("missing-token", 401, "unauthorized", VALID, token=False, says="missing token"),
    # -- size and compression ------------------------------------------------------------------
    # Content-Length says 1 MiB + 1 but only 64 KiB are sent: the 413 must come from the
    # headers alone (the raw exchange reads the answer without ever sending the rest).
    BadInput("content-length-over-1mib", 413, TOO_LARGE, padded(MIB + 1)[:65536],
             transport="raw", headers={**JSON, "Content-Length": str(MIB + 1)},
             details=LIMIT_BYTES, says=f"the body is {MIB + 1} bytes; the limit is {MIB}"),
    BadInput("chunked-over-1mib", 413, TOO_LARGE, padded(MIB + 1), transport="chunked",
             details=LIMIT_BYTES, says=f"the body is over the limit of {MIB} bytes"),
    BadInput("gzip-inflating-over-1mib", 413, TOO_LARGE, gzip.compress(padded(MIB + 1)),
             headers={**JSON, "Content-Encoding": "gzip"}, details=LIMIT_BYTES,
             says=f"inflates to over the limit of {MIB} bytes"),
    BadInput("gzip-corrupt-bytes", 400, NOT_JSON, b"\x1f\x8b\x08\x00 this is not gzip data",
             headers={**JSON, "Content-Encoding": "gzip"}, says="not valid gzip data"),
    BadInput("gzip-not-gzip-at-all", 400, NOT_JSON, VALID,
             headers={**JSON, "Content-Encoding": "gzip"}, says="incorrect header check"),
    BadInput("gzip-truncated", 400, NOT_JSON, gzip.compress(VALID)[:-12],
             headers={**JSON, "Content-Encoding": "gzip"}, says="gzip body is truncated"),
    BadInput("gzip-trailing-bytes", 400, NOT_JSON, gzip.compress(VALID) + b"junk",
             headers={**JSON, "Content-Encoding": "gzip"}, says="4 bytes after its end"),
    BadInput("deflate-corrupt-bytes", 400, NOT_JSON, b"\x78\x9c this is not deflate data",
             headers={**JSON, "Content-Encoding": "deflate"}, says="not valid deflate data"),
    # -- the batch endpoint (mock extension) ---------------------------------------------------
    BadInput("batch-empty-array", 400, INVALID, b"[]", path="/events",
             violations=invalid("$", "must be a non-empty array"), says=BATCH_SHAPE),
    BadInput("batch-object", 400, INVALID, VALID, path="/events",
             violations=invalid("$", "must be a non-empty array"), says=BATCH_SHAPE),
    BadInput("batch-1001-events", 413, TOO_LARGE, json.dumps([BATCH_ITEM] * 1001).encode(),
             path="/events", details={"limitEvents": 1000},
             says="the batch has 1001 events; the limit is 1000"),
    BadInput("batch-one-invalid-item", 400, INVALID,
             json.dumps([BATCH_ITEM, {**BATCH_ITEM, "eventType": ""}, BATCH_ITEM]).encode(),
             path="/events", violations=invalid("$[1].eventType", "should be non-empty"),
             details={"invalidIndexes": [1]},
             says="1 of 3 events are invalid; nothing was stored: $[1].eventType: "),
    # -- routing -------------------------------------------------------------------------------
    BadInput("wrong-method-get", 405, "method_not_allowed", method="GET",
             details={"allowed": ["POST"]}, says="GET is not allowed on /event; use POST",
             response_headers={"Allow": "POST"}),
    BadInput("wrong-method-put", 405, "method_not_allowed", VALID, method="PUT",
             details={"allowed": ["POST"]}, says="PUT is not allowed on /event; use POST",
             response_headers={"Allow": "POST"}),
    BadInput("unknown-path", 404, "not_found", VALID, path="/v1/event",
             says="no route for POST /v1/event"),
]
