"""The hostile-input corpus: requests written to hurt, for the mock and for the gateway.

It extends bad_inputs.py (whose `BadInput`, helpers and transports it reuses) with what an
attacker or a badly broken client sends: invalid UTF-8, deep nesting, 10 MB bodies, compression
bombs, NaN and Infinity, huge numbers, raw control characters, prototype-pollution keys, wrong
content types and encodings, malformed HTTP. Slow clients (slow headers, unfinished bodies) need
a server with short timeouts and are in test_slow_clients.py.

- MOCK_CASES: answered by the mock exactly as bad_inputs.CASES are (status, JSON error, nothing
  stored, the rejection listed, the mock still serving), see test_hostile_inputs.py.
- GATEWAY_CASES: answered by the gateway in Segment's shape, `{"code", "message"}`, where Segment
  documents a refusal: 400 for what cannot be read or is over a size limit (Segment has no 413 or
  415), 401 for a missing or unknown write key when keys are configured, 404/405 for routing.
  `says` is the exact message.
- RAW_HTTP: malformed HTTP that aiohttp's parser refuses (plain-text 400, connection closed)
  before either app runs; sent to both servers.

What is hostile but valid (escaped control characters and prototype-pollution names as plain
keys, nesting within the parser's depth) is accepted as data; test_hostile_inputs.py shows that
it is stored verbatim and harms nothing.
"""

from __future__ import annotations

import gzip
import json
import struct
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cache, cached_property

from tests.e2e.bad_inputs import (
    BATCH_ITEM,
    INVALID,
    JSON,
    MEDIA,
    MIB,
    NOT_JSON,
    TOO_LARGE,
    VALID,
    BadInput,
    Transport,
    event,
    invalid,
    labels,
    numbers,
    padded,
    with_text,
)

TEN_MB = 10 * 1000 * 1000
# A valid event padded with whitespace to 10 MB, built once and sent to every route: a 10 MB
# body is refused before any of it is parsed, so only its size matters.
TEN_MB_EVENT = padded(TEN_MB)
BOMB_BYTES = 16 * MIB  # what each bomb inflates to: 16 times the mock's limit, 512 times Segment's
LIMIT_BYTES = {"limitBytes": MIB}
GZIP = {**JSON, "Content-Encoding": "gzip"}


# -- compression bombs --------------------------------------------------------------------------


@dataclass(frozen=True)
class Bomb:
    """`prefix`, then `filler` up to `size` bytes, deflated: a few KB that inflate to `size`.

    Built without ever holding (or compressing) the inflated bytes: after a full flush deflate
    forgets its history, so every further MiB of filler compresses to the very same block.
    """

    prefix: bytes
    filler: bytes
    size: int

    @cached_property
    def raw(self) -> bytes:
        """Raw deflate (what some clients send as Content-Encoding: deflate)."""
        step = self.filler * MIB
        first = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
        head = first.compress(self.prefix) + first.flush(zlib.Z_FULL_FLUSH)
        block = first.compress(step) + first.flush(zlib.Z_FULL_FLUSH)
        whole, rest = divmod(self.size - len(self.prefix), MIB)
        last = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
        return head + block * (whole - 1) + last.compress(step + step[:rest]) + last.flush()

    @cached_property
    def checksums(self) -> tuple[int, int]:
        """CRC-32 and Adler-32 of the inflated bytes, computed a MiB at a time."""
        step = self.filler * MIB
        whole, rest = divmod(self.size - len(self.prefix), MIB)
        crc, adler = zlib.crc32(self.prefix), zlib.adler32(self.prefix)
        for piece in [step] * whole + [step[:rest]]:
            crc, adler = zlib.crc32(piece, crc), zlib.adler32(piece, adler)
        return crc, adler

    @cached_property
    def gzip(self) -> bytes:
        crc = self.checksums[0]
        header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
        return header + self.raw + struct.pack("<II", crc, self.size & 0xFFFFFFFF)

    @cached_property
    def zlib(self) -> bytes:
        return b"\x78\xda" + self.raw + struct.pack(">I", self.checksums[1])


@cache
def whitespace_bomb(document: bytes = VALID) -> Bomb:
    """A valid JSON document followed by JSON whitespace: only its size is wrong."""
    return Bomb(document, b" ", BOMB_BYTES)


@cache
def zero_bomb() -> Bomb:
    """NUL bytes: not even JSON, so a 413 proves the size is checked first."""
    return Bomb(b"", b"\x00", BOMB_BYTES)


# -- bodies -------------------------------------------------------------------------------------


def label_raw(raw: bytes) -> bytes:
    """A valid event whose label value is replaced by the raw bytes `raw`."""
    return event(labels={"plan": "@@"}).replace(b'"@@"', raw)


def nested(depth: int, opening: bytes = b"[", closing: bytes = b"]") -> bytes:
    return opening * depth + closing * depth


def nested_objects(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def top_level(name: str, value: object) -> bytes:
    return event(**{name: value})


def batch(*items: object) -> bytes:
    return json.dumps(list(items)).encode()


DEEP = 100_000  # far past any parser's depth
DEEP_UNDER_32KB = 5_000  # past the parser's depth too, within Segment's 32 KB
WITHIN_DEPTH = 500  # parsed, then refused by the schema (a label is a scalar)
SCHEMA_SCALAR = 'is not of type "string", "number", "boolean"'
NOT_FINITE = "is not a finite number"
UTF8 = "not valid UTF-8"
EVENTS = "/events"


def chunked(case: BadInput) -> BadInput:
    return replace(case, transport="chunked")


# -- the mock -----------------------------------------------------------------------------------

MOCK_CASES: list[BadInput] = [
    # -- invalid UTF-8 -------------------------------------------------------------------------
    BadInput("utf8-overlong-slash", 400, NOT_JSON, label_raw(b'"\xc0\xaf"'),
             says=f"body is {UTF8} (byte"),
    BadInput("utf8-encoded-surrogate", 400, NOT_JSON, label_raw(b'"\xed\xa0\x80"'),
             says=f"body is {UTF8} (byte"),
    BadInput("utf8-lone-continuation-byte", 400, NOT_JSON, label_raw(b'"\x80"'),
             says=f"body is {UTF8} (byte"),
    BadInput("utf8-truncated-sequence", 400, NOT_JSON, label_raw(b'"caf\xc3"'),
             says=f"body is {UTF8} (byte"),
    BadInput("utf8-byte-ff", 400, NOT_JSON, label_raw(b'"\xff\xfe"'), says=f"body is {UTF8} (byte"),
    BadInput("utf16-with-bom", 400, NOT_JSON, VALID.decode().encode("utf-16"),
             says=f"body is {UTF8} (byte 0)"),
    BadInput("utf8-bom-prefix", 400, NOT_JSON, b"\xef\xbb\xbf" + VALID,
             says="Unexpected UTF-8 BOM"),
    BadInput("utf8-invalid-in-batch", 400, NOT_JSON, batch(BATCH_ITEM)[:-1] + b', "\xc3\x28"]',
             path=EVENTS, says=f"body is {UTF8} (byte"),
    # -- deep nesting --------------------------------------------------------------------------
    BadInput("nested-objects-100000-deep", 400, NOT_JSON, label_raw(nested_objects(DEEP)),
             says="maximum recursion depth exceeded"),
    BadInput("nested-arrays-100000-deep-top-level", 400, NOT_JSON, nested(DEEP),
             says="maximum recursion depth exceeded"),
    BadInput("nested-arrays-100000-deep-in-batch", 400, NOT_JSON,
             b"[" + VALID + b"," + nested(DEEP) + b"]", path=EVENTS,
             says="maximum recursion depth exceeded"),
    BadInput("nested-500-deep-label", 400, INVALID, label_raw(nested(WITHIN_DEPTH)),
             violations=invalid("$.labels.plan", SCHEMA_SCALAR)),
    BadInput("nested-500-deep-objects-as-actor", 400, INVALID,
             event(actors="@@").replace(b'"@@"', nested_objects(WITHIN_DEPTH)),
             violations=invalid("$.actors.a.a", 'is not of type "string"')),
    # -- 10 MB bodies --------------------------------------------------------------------------
    BadInput("content-length-10mb-refused-from-headers", 413, TOO_LARGE, TEN_MB_EVENT[:65536],
             transport="raw", headers={**JSON, "Content-Length": str(TEN_MB)},
             details=LIMIT_BYTES, says=f"the body is {TEN_MB} bytes; the limit is {MIB}"),
    BadInput("body-10mb-sent-whole", 413, TOO_LARGE, TEN_MB_EVENT, transport="raw",
             details=LIMIT_BYTES, says=f"the body is {TEN_MB} bytes; the limit is {MIB}"),
    BadInput("chunked-10mb", 413, TOO_LARGE, TEN_MB_EVENT, transport="chunked",
             details=LIMIT_BYTES, says=f"the body is over the limit of {MIB} bytes"),
    BadInput("chunked-10mb-batch", 413, TOO_LARGE, TEN_MB_EVENT, path=EVENTS,
             transport="chunked", details=LIMIT_BYTES,
             says=f"the body is over the limit of {MIB} bytes"),
    BadInput("gzip-10mb-on-the-wire", 413, TOO_LARGE, TEN_MB_EVENT,
             transport="raw", headers=GZIP, details=LIMIT_BYTES,
             says=f"the body is {TEN_MB} bytes; the limit is {MIB}"),
    # -- compression bombs: 16 MiB once inflated, about 17 KB on the wire -------------------------
    BadInput("gzip-bomb-whitespace", 413, TOO_LARGE, whitespace_bomb().gzip, headers=GZIP,
             details=LIMIT_BYTES, says=f"inflates to over the limit of {MIB} bytes"),
    BadInput("gzip-bomb-zeros", 413, TOO_LARGE, zero_bomb().gzip, headers=GZIP,
             details=LIMIT_BYTES, says=f"inflates to over the limit of {MIB} bytes"),
    BadInput("x-gzip-bomb", 413, TOO_LARGE, whitespace_bomb().gzip,
             headers={**JSON, "Content-Encoding": "x-gzip"}, details=LIMIT_BYTES,
             says=f"inflates to over the limit of {MIB} bytes"),
    BadInput("deflate-zlib-bomb", 413, TOO_LARGE, whitespace_bomb().zlib,
             headers={**JSON, "Content-Encoding": "deflate"}, details=LIMIT_BYTES,
             says=f"inflates to over the limit of {MIB} bytes"),
    BadInput("deflate-raw-bomb", 413, TOO_LARGE, whitespace_bomb().raw,
             headers={**JSON, "Content-Encoding": "deflate"}, details=LIMIT_BYTES,
             says=f"inflates to over the limit of {MIB} bytes"),
    BadInput("gzip-bomb-chunked", 413, TOO_LARGE, whitespace_bomb().gzip, headers=GZIP,
             transport="chunked", details=LIMIT_BYTES,
             says=f"inflates to over the limit of {MIB} bytes"),
    BadInput("gzip-bomb-batch", 413, TOO_LARGE, whitespace_bomb(batch(BATCH_ITEM)).gzip,
             path=EVENTS, headers=GZIP, details=LIMIT_BYTES,
             says=f"inflates to over the limit of {MIB} bytes"),
    BadInput("gzip-inside-gzip", 400, NOT_JSON, gzip.compress(gzip.compress(VALID)),
             headers=GZIP, says=f"body is {UTF8} (byte 1)"),
    BadInput("gzip-two-members", 400, NOT_JSON, gzip.compress(VALID) * 2, headers=GZIP,
             says=f"gzip body has {len(gzip.compress(VALID))} bytes after its end"),
    BadInput("gzip-header-only", 400, NOT_JSON, gzip.compress(VALID)[:10], headers=GZIP,
             says="gzip body is truncated"),
    # -- NaN, Infinity, huge numbers -----------------------------------------------------------
    BadInput("nan-label", 400, NOT_JSON, labels(float("nan")), says="NaN is not a JSON number"),
    BadInput("infinity-location", 400, NOT_JSON,
             event(location={"lat": float("inf")}), says="Infinity is not a JSON number"),
    BadInput("nan-in-batch", 400, NOT_JSON, batch({**BATCH_ITEM, "numbers": {"x": float("nan")}}),
             path=EVENTS, says="NaN is not a JSON number"),
    BadInput("minus-nan-literal", 400, NOT_JSON, numbers("@@").replace(b'"@@"', b"-NaN"),
             says="not valid JSON: Expecting value"),
    BadInput("nan-string-number", 400, INVALID, numbers("NaN"),
             violations=invalid("$.numbers.revenue", NOT_FINITE)),
    BadInput("infinity-string-number", 400, INVALID, numbers("Infinity"),
             violations=invalid("$.numbers.revenue", NOT_FINITE)),
    BadInput("string-number-1e999", 400, INVALID, numbers("1e999"),
             violations=invalid("$.numbers.revenue", NOT_FINITE)),
    BadInput("number-minus-1e400", 400, INVALID, numbers("@@").replace(b'"@@"', b"-1e400"),
             violations=invalid("$.numbers.revenue", NOT_FINITE)),
    BadInput("label-1e400", 400, INVALID, label_raw(b"1e400"),
             violations=invalid("$.labels.plan", "must be finite")),
    BadInput("integer-4000-digits-as-number", 400, INVALID, numbers("@@").replace(
        b'"@@"', b"9" * 4000), violations=invalid("$.numbers.revenue", NOT_FINITE)),
    BadInput("numeric-string-5000-digits", 400, INVALID, numbers("9" * 5000),
             violations=invalid("$.numbers.revenue", NOT_FINITE)),
    BadInput("integer-4301-digits-as-label", 400, NOT_JSON, label_raw(b"9" * 4301),
             says="Exceeds the limit (4300 digits)"),
    # -- raw control characters (escaped ones are data, see the tests) -------------------------
    BadInput("raw-nul-in-label-key", 400, NOT_JSON,
             event(labels={"pl@@an": "pro"}).replace(b"@@", b"\x00"),
             says="Invalid control character at"),
    BadInput("raw-newline-in-label-value", 400, NOT_JSON, label_raw(b'"pro\nteam"'),
             says="Invalid control character at"),
    BadInput("raw-escape-in-actor-type", 400, NOT_JSON,
             event(actors={"Cust@@omer": {"userId": "u_1"}}).replace(b"@@", b"\x1b"),
             says="Invalid control character at"),
    BadInput("raw-tab-in-eventType", 400, NOT_JSON, with_text('"Order\tCompleted"'),
             says="Invalid control character at"),
    # -- prototype-pollution keys where the contract has no room for them ----------------------
    BadInput("proto-top-level", 400, INVALID, top_level("__proto__", {"isAdmin": True}),
             violations=invalid("$", '("__proto__" was unexpected)')),
    BadInput("constructor-prototype-top-level", 400, INVALID,
             top_level("constructor", {"prototype": {"isAdmin": True}}),
             violations=invalid("$", '("constructor" was unexpected)')),
    BadInput("proto-label-object", 400, INVALID, event(labels={"__proto__": {"polluted": "yes"}}),
             violations=invalid("$.labels['__proto__']", SCHEMA_SCALAR)),
    BadInput("proto-number-object", 400, INVALID, event(numbers={"__proto__": {"x": 1}}),
             violations=invalid("$.numbers['__proto__']", 'is not of type "number", "string"')),
    BadInput("proto-actor-without-identifiers", 400, INVALID, event(actors={"__proto__": {}}),
             violations=invalid("$.actors['__proto__']", "should be non-empty")),
    BadInput("proto-in-batch-item", 400, INVALID,
             batch(BATCH_ITEM, {**BATCH_ITEM, "__proto__": {"isAdmin": True}}), path=EVENTS,
             violations=invalid("$[1]", '("__proto__" was unexpected)'),
             details={"invalidIndexes": [1]}, says="1 of 2 events are invalid"),
    # -- wrong content types and encodings -----------------------------------------------------
    BadInput("content-type-xml", 415, MEDIA, b"<event><eventType>x</eventType></event>",
             headers={"Content-Type": "application/xml"}, says="'application/xml' is not JSON"),
    BadInput("content-type-octet-stream", 415, MEDIA, VALID,
             headers={"Content-Type": "application/octet-stream"},
             says="'application/octet-stream' is not JSON"),
    BadInput("content-type-jsonp", 415, MEDIA, VALID,
             headers={"Content-Type": "application/jsonp"}, says="'application/jsonp' is not JSON"),
    BadInput("content-type-text-json", 415, MEDIA, VALID, headers={"Content-Type": "text/json"},
             says="'text/json' is not JSON"),
    BadInput("content-type-empty", 415, MEDIA, VALID, transport="raw",
             headers={"Content-Type": ""}, says="Content-Type '' is not JSON"),
    BadInput("content-type-on-batch-html", 415, MEDIA, batch(BATCH_ITEM), path=EVENTS,
             headers={"Content-Type": "text/html"}, says="'text/html' is not JSON"),
    BadInput("content-encoding-gzip-twice", 415, MEDIA, gzip.compress(gzip.compress(VALID)),
             headers={**JSON, "Content-Encoding": "gzip, gzip"},
             says="Content-Encoding 'gzip, gzip'"),
    BadInput("content-encoding-chunked", 415, MEDIA, VALID,
             headers={**JSON, "Content-Encoding": "chunked"}, says="Content-Encoding 'chunked'"),
    # -- tokens offered where they do not count ------------------------------------------------
    BadInput("token-in-query-on-ingest", 401, "unauthorized", VALID, path="/event?token=t-1",
             token=False, says="missing token"),
    BadInput("token-blank", 401, "unauthorized", VALID, token=False,
             headers={**JSON, "apiToken": "   "}, says="missing token"),
    BadInput("bearer-without-credentials", 401, "unauthorized", VALID, token=False,
             headers={**JSON, "Authorization": "Bearer "}, says="missing token"),
    BadInput("basic-auth-instead-of-token", 401, "unauthorized", VALID, token=False,
             headers={**JSON, "Authorization": "Basic dC0xOg=="}, says="missing token"),
    # -- shapes and times meant to break parsers -----------------------------------------------
    BadInput("batch-of-arrays", 400, INVALID, batch([BATCH_ITEM]), path=EVENTS,
             violations=invalid("$[0]", 'is not of type "object"'),
             details={"invalidIndexes": [0]}, says="1 of 1 events are invalid"),
    BadInput("batch-of-nulls", 400, INVALID, batch(None, None), path=EVENTS,
             violations=(("$[0]", 'is not of type "object"'), ("$[1]", 'is not of type "object"')),
             details={"invalidIndexes": [0, 1]}, says="2 of 2 events are invalid"),
    BadInput("batch-2000-items-over-the-count-limit", 413, TOO_LARGE, batch(*[None] * 2000),
             path=EVENTS, details={"limitEvents": 1000},
             says="the batch has 2000 events; the limit is 1000"),
    BadInput("eventTime-year-zero", 400, INVALID, event(eventTime="0000-01-01T00:00:00Z"),
             violations=invalid("$.eventTime", "is not a date-time with a zone")),
    BadInput("eventTime-overflowing-utc", 400, INVALID,
             event(eventTime="9999-12-31T23:59:59-01:00"),
             violations=invalid("$.eventTime", "is not a date-time with a zone")),
    BadInput("eventTime-offset-24h", 400, INVALID, event(eventTime="2026-11-28T10:00:00+24:00"),
             violations=invalid("$.eventTime", "is not a date-time with a zone")),
    BadInput("eventTime-10-fraction-digits", 400, INVALID,
             event(eventTime="2026-11-28T10:00:00.1234567890Z"),
             violations=invalid("$.eventTime", "is not a date-time with a zone")),
    BadInput("eventTime-arabic-digits", 400, INVALID, event(eventTime="٢٠٢٦-11-28T10:00:00Z"),
             violations=invalid("$.eventTime", "is not a date-time with a zone")),
]


# -- the gateway (Segment's error shape; `says` is the whole message) ---------------------------


@dataclass(frozen=True)
class GatewayCase:
    request: BadInput  # token=False: the gateway takes write keys, not Pointillist tokens
    write_keys: frozenset[str] = field(default_factory=frozenset)

    @property
    def id(self) -> str:
        return self.request.id


KEY = "wk-hostile-0123456789"
SINGLE_LIMIT = 32 * 1024
BATCH_LIMIT = 500 * 1024
TRACK_MESSAGE = {"type": "track", "event": "Order Completed", "userId": "u_1",
                 "properties": {"revenue": 42.5}}
TRACK = json.dumps(TRACK_MESSAGE).encode()
BATCH = json.dumps({"batch": [TRACK_MESSAGE]}).encode()


BIG_MESSAGE = {**TRACK_MESSAGE, "properties": {"blob": "x" * SINGLE_LIMIT}}
BIG_MESSAGE_BYTES = len(json.dumps(BIG_MESSAGE, separators=(",", ":")))


def track_raw(raw: bytes) -> bytes:
    """A track whose `revenue` property is replaced by the raw bytes `raw`."""
    return TRACK.replace(b"42.5", raw)


def batch_raw(raw: bytes) -> bytes:
    return BATCH.replace(b"42.5", raw)


def over(limit: int) -> str:
    return f"the request body is over the limit of {limit} bytes"


def g(case_id: str, body: bytes, says: str, *, path: str = "/v1/track", status: int = 400,
      code: str = "invalid_request", method: str = "POST", headers: Mapping[str, str] = JSON,
      transport: Transport = "client") -> BadInput:
    """A gateway request (no Pointillist token); `says` is its whole message, or for a parser
    message that names a column, all of it up to the column."""
    return BadInput(case_id, status, code, body, path=path, method=method, headers=headers,
                    token=False, transport=transport, says=says)


def _on_track_and_batch(case_id: str, raw: bytes, says: str) -> Iterator[BadInput]:
    yield g(f"track-{case_id}", track_raw(raw), says)
    yield g(f"batch-{case_id}", batch_raw(raw), says, path="/v1/batch")


INVALID_JSON = "Invalid JSON: "
NOT_UTF8 = INVALID_JSON + "the body is not UTF-8"
TOO_DEEP = INVALID_JSON + "nested too deeply"
CONTROL = INVALID_JSON + "Invalid control character at: line 1 column "

_BODY_LEVEL: list[tuple[str, bytes, str]] = [
    ("utf8-overlong-slash", b'"\xc0\xaf"', NOT_UTF8),
    ("utf8-encoded-surrogate", b'"\xed\xa0\x80"', NOT_UTF8),
    ("utf8-lone-continuation-byte", b'"\x80"', NOT_UTF8),
    ("utf8-truncated-sequence", b'"caf\xc3"', NOT_UTF8),
    ("nan", b"NaN", INVALID_JSON + "NaN is not JSON"),
    ("infinity", b"Infinity", INVALID_JSON + "Infinity is not JSON"),
    ("minus-infinity", b"-Infinity", INVALID_JSON + "-Infinity is not JSON"),
    ("number-1e400", b"1e400", INVALID_JSON + "the number 1e400 is out of range"),
    ("number-minus-1e400", b"-1e400", INVALID_JSON + "the number -1e400 is out of range"),
    ("integer-5000-digits", b"9" * 5000, INVALID_JSON + "Exceeds the limit (4300 digits) for "
     "integer string conversion: value has 5000 digits; use sys.set_int_max_str_digits() to "
     "increase the limit"),
    ("nested-arrays-5000-deep", nested(DEEP_UNDER_32KB), TOO_DEEP),
    ("nested-objects-5000-deep", nested_objects(DEEP_UNDER_32KB), TOO_DEEP),
    ("raw-newline-in-string", b'"4\n2"', CONTROL),
    ("raw-nul-in-string", b'"4\x002"', CONTROL),
]

GATEWAY_REQUESTS: list[BadInput] = [
    *(case for args in _BODY_LEVEL for case in _on_track_and_batch(*args)),
    # -- not JSON at all, or not the shape of the route -----------------------------------------
    g("utf16-with-bom", TRACK.decode().encode("utf-16"), NOT_UTF8),
    g("utf8-bom-prefix", b"\xef\xbb\xbf" + TRACK,
      INVALID_JSON + "Unexpected UTF-8 BOM (decode using utf-8-sig): line 1 column 1 (char 0)"),
    g("empty-body", b"", INVALID_JSON + "the body is empty"),
    g("whitespace-body", b" \r\n\t ", INVALID_JSON + "the body is empty"),
    g("truncated-json", TRACK[:30],
      INVALID_JSON + "Unterminated string starting at: line 1 column 28 (char 27)"),
    g("trailing-garbage", TRACK + b" }{",
      INVALID_JSON + f"Extra data: line 1 column {len(TRACK) + 2} (char {len(TRACK) + 1})"),
    g("single-quotes", b"{'type': 'track'}", INVALID_JSON + "Expecting property name enclosed "
      "in double quotes: line 1 column 2 (char 1)"),
    g("body-is-array", b"[" + TRACK + b"]", INVALID_JSON + "the body must be a JSON object"),
    g("body-is-string", b'"track"', INVALID_JSON + "the body must be a JSON object"),
    g("body-is-null", b"null", INVALID_JSON + "the body must be a JSON object"),
    g("identify-body-is-number", b"42", INVALID_JSON + "the body must be a JSON object",
      path="/v1/identify"),
    g("batch-not-an-array", b'{"batch": {"0": {}}}',
      INVALID_JSON + 'a batch body is {"batch": [message, ...]}', path="/v1/batch"),
    g("batch-missing", TRACK, INVALID_JSON + 'a batch body is {"batch": [message, ...]}',
      path="/v1/batch"),
    g("import-batch-null", b'{"batch": null}',
      INVALID_JSON + 'a batch body is {"batch": [message, ...]}', path="/v1/import"),
    g("form-body-with-form-content-type", b"type=track&event=Order+Completed",
      INVALID_JSON + "Expecting value: line 1 column 1 (char 0)",
      headers={"Content-Type": "application/x-www-form-urlencoded"}),
    g("xml-body-with-xml-content-type", b"<track/>",
      INVALID_JSON + "Expecting value: line 1 column 1 (char 0)",
      headers={"Content-Type": "application/xml"}),
    g("multipart-body", b'--b\r\nContent-Disposition: form-data; name="e"\r\n\r\n' + TRACK
      + b"\r\n--b--\r\n", INVALID_JSON + "Expecting value: line 1 column 1 (char 0)",
      headers={"Content-Type": "multipart/form-data; boundary=b"}),
    # -- sizes: 10 MB, the exact limits, compression bombs ---------------------------------------
    g("content-length-10mb-refused-from-headers", TRACK + b" " * 65536, over(SINGLE_LIMIT),
      transport="raw", headers={**JSON, "Content-Length": str(TEN_MB)}),
    g("batch-content-length-10mb-refused-from-headers", BATCH + b" " * 65536, over(BATCH_LIMIT),
      path="/v1/batch", transport="raw", headers={**JSON, "Content-Length": str(TEN_MB)}),
    g("body-10mb-sent-whole", TEN_MB_EVENT, over(SINGLE_LIMIT), transport="raw"),
    g("chunked-10mb", TEN_MB_EVENT, over(SINGLE_LIMIT), transport="chunked"),
    g("batch-chunked-10mb", TEN_MB_EVENT, over(BATCH_LIMIT), path="/v1/batch",
      transport="chunked"),
    g("track-one-byte-over-32kb", TRACK + b" " * (SINGLE_LIMIT + 1 - len(TRACK)),
      over(SINGLE_LIMIT)),
    g("batch-message-over-32kb", json.dumps({"batch": [TRACK_MESSAGE, BIG_MESSAGE]}).encode(),
      f"message 1 of the batch is {BIG_MESSAGE_BYTES} bytes; the limit is {SINGLE_LIMIT} "
      "bytes per message", path="/v1/batch"),
    g("gzip-bomb-track", whitespace_bomb(TRACK).gzip, over(SINGLE_LIMIT), headers=GZIP),
    g("gzip-bomb-batch", whitespace_bomb(BATCH).gzip, over(BATCH_LIMIT), path="/v1/batch",
      headers=GZIP),
    g("gzip-bomb-zeros", zero_bomb().gzip, over(SINGLE_LIMIT), headers=GZIP),
    g("gzip-bomb-chunked", whitespace_bomb(TRACK).gzip, over(SINGLE_LIMIT), headers=GZIP,
      transport="chunked"),
    g("deflate-zlib-bomb", whitespace_bomb(TRACK).zlib, over(SINGLE_LIMIT),
      headers={**JSON, "Content-Encoding": "deflate"}),
    g("deflate-raw-bomb", whitespace_bomb(TRACK).raw, over(SINGLE_LIMIT),
      headers={**JSON, "Content-Encoding": "deflate"}),
    g("x-gzip-bomb-import", whitespace_bomb(BATCH).gzip, over(BATCH_LIMIT), path="/v1/import",
      headers={**JSON, "Content-Encoding": "x-gzip"}),
    g("gzip-corrupt", b"\x1f\x8b\x08\x00 this is not gzip data",
      "the body is not valid gzip data (Error -3 while decompressing data: invalid stored block "
      "lengths)", headers=GZIP),
    g("gzip-truncated", gzip.compress(TRACK)[:-12], "the gzip body is truncated", headers=GZIP),
    g("gzip-two-members", gzip.compress(TRACK) * 2,
      f"the gzip body has {len(gzip.compress(TRACK))} bytes after its end", headers=GZIP),
    g("gzip-inside-gzip", gzip.compress(gzip.compress(TRACK)), NOT_UTF8, headers=GZIP),
    g("content-encoding-br", b"\x1b\x00\x00", "Content-Encoding 'br' is not supported; send "
      "gzip or no encoding", headers={**JSON, "Content-Encoding": "br"}),
    g("content-encoding-gzip-twice", gzip.compress(gzip.compress(TRACK)),
      "Content-Encoding 'gzip, gzip' is not supported; send gzip or no encoding",
      headers={**JSON, "Content-Encoding": "gzip, gzip"}),
    # -- routing -------------------------------------------------------------------------------
    g("get-on-track", b"", "GET is not allowed on /v1/track; use POST", method="GET",
      status=405, code="method_not_allowed"),
    g("delete-on-batch", b"", "DELETE is not allowed on /v1/batch; use POST", method="DELETE",
      path="/v1/batch", status=405, code="method_not_allowed"),
    g("unknown-call-type", TRACK, "no route for POST /v1/purchase", path="/v1/purchase",
      status=404, code="not_found"),
    g("path-traversal", TRACK, "no route for POST /v1/../_gateway/deadletter/redrive",
      path="/v1/%2E%2E/_gateway/deadletter/redrive", status=404, code="not_found",
      transport="raw"),
    g("track-sub-path", TRACK, "no route for POST /v1/track/extra", path="/v1/track/extra",
      status=404, code="not_found"),
]

MISSING_KEY = ("missing write key: send Authorization: Basic base64('<writeKey>:'), "
               "a Bearer token, or writeKey in the body")
UNKNOWN_KEY = "unknown write key: this gateway accepts only its configured keys"
_KEYED: list[BadInput] = [
    g("no-write-key", TRACK, MISSING_KEY, status=401, code="unauthorized"),
    g("unknown-basic-write-key", TRACK, UNKNOWN_KEY, status=401, code="unauthorized",
      headers={**JSON, "Authorization": "Basic d2stb3RoZXI6"}),
    g("basic-not-base64", TRACK, MISSING_KEY, status=401, code="unauthorized",
      headers={**JSON, "Authorization": "Basic %%%not-base64%%%"}),
    g("basic-empty-username", TRACK, MISSING_KEY, status=401, code="unauthorized",
      headers={**JSON, "Authorization": "Basic Ond4"}),
    g("unknown-body-write-key", TRACK[:-1] + b', "writeKey": "wk-other"}', UNKNOWN_KEY,
      status=401, code="unauthorized"),
    g("write-key-as-a-number", TRACK[:-1] + b', "writeKey": 12345}', MISSING_KEY, status=401,
      code="unauthorized"),
    g("batch-unknown-bearer-key", BATCH, UNKNOWN_KEY, path="/v1/batch", status=401,
      code="unauthorized", headers={**JSON, "Authorization": "Bearer wk-other"}),
]

GATEWAY_CASES: list[GatewayCase] = [
    *(GatewayCase(request) for request in GATEWAY_REQUESTS),
    *(GatewayCase(request, frozenset({KEY})) for request in _KEYED),
]


# -- malformed HTTP, for both servers -----------------------------------------------------------

RAW_HTTP: dict[str, tuple[bytes, str]] = {
    "content-length-and-chunked": (
        b"POST /event HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "Transfer-Encoding can't be present with Content-Length",
    ),
    "two-content-lengths": (
        b"POST /event HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        "Duplicate Content-Length",
    ),
    "negative-content-length": (
        b"POST /event HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        "Invalid character in Content-Length",
    ),
    "chunk-size-not-hex": (
        b"POST /event HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "Invalid character in chunk size",
    ),
    "transfer-encoding-gzip-only": (
        b"POST /event HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
        "Request has invalid `Transfer-Encoding`",
    ),
    "nul-in-header-value": (
        b"POST /event HTTP/1.1\r\nHost: x\r\napiToken: t\x00x\r\nContent-Length: 0\r\n\r\n",
        "Invalid header value char",
    ),
    "request-line-over-8190-bytes": (
        b"POST /event?" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        "Got more than 8190 bytes when reading",
    ),
    "more-than-128-headers": (
        b"POST /event HTTP/1.1\r\nHost: x\r\n"
        + b"".join(b"X-H%d: v\r\n" % i for i in range(200)) + b"\r\n",
        "Too many headers received",
    ),
    "http-version-9.9": (b"POST /event HTTP/9.9\r\nHost: x\r\n\r\n", "Invalid HTTP version"),
    "header-folding": (
        b"POST /event HTTP/1.1\r\nHost: x\r\nX-A: b\r\n  folded\r\nContent-Length: 0\r\n\r\n",
        "Unexpected whitespace after header value",
    ),
    "chunk-size-overflow": (
        b"POST /event HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"f" * 20 + b"\r\n",
        "Chunk size overflow",
    ),
    "nul-in-path": (b"POST /ev\x00ent HTTP/1.1\r\nHost: x\r\n\r\n", "Invalid char in url path"),
    "bare-lf-line-endings": (b"POST /event HTTP/1.1\nHost: x\n\n", "Expected CRLF after version"),
}
