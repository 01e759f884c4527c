"""Reading a Segment HTTP Tracking API body: inflating it and decoding its JSON.

Segment answers 400 `{"code", "message"}` to a body it cannot read (an encoding it does not
take, not gzip when it says so, over the size limit once inflated, not JSON); so does this.
Pure: bytes in, a JSON value out.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Final

from httpkit import inflation
from httpkit.inflation import COMPRESSED, ENCODINGS
from httpkit.problems import BodyTooLarge, UnreadableBody

from ..errors import InvalidRequest


def inflate(data: bytes, encoding: str, limit: int) -> bytes:
    """The body as JSON bytes: inflated when `encoding` says gzip or deflate, at most `limit`
    bytes once inflated (httpkit inflates one more byte to tell that it is over)."""
    encoding = encoding.strip().lower()
    if encoding not in ENCODINGS:
        raise InvalidRequest(
            f"Content-Encoding {encoding!r} is not supported; send gzip or no encoding"
        )
    over = f"the request body is over the limit of {limit} bytes"
    if encoding in COMPRESSED and data:
        try:  # Segment answers 400 to every body it cannot take, 413 included
            return inflation.inflate(data, encoding, limit)
        except BodyTooLarge:
            raise InvalidRequest(over) from None
        except UnreadableBody as exc:
            raise InvalidRequest(exc.message) from None
    if len(data) > limit:
        raise InvalidRequest(over)
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400: a number no double holds, which could not be stored
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def decode_json(body: bytes) -> Any:
    """The body as a JSON value; 400 "Invalid JSON" for anything else (NaN included, and a
    number too large for a double, such as 1e400)."""
    if not body.strip():
        raise InvalidRequest("Invalid JSON: the body is empty")
    try:
        text = body.decode("utf-8")
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
        if _SURROGATE_ESCAPE.search(text):
            value = _without_lone_surrogates(value)
        return value
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InvalidRequest(f"Invalid JSON: {_reason(exc)}") from None


_SURROGATE_ESCAPE: Final = re.compile(r"\\u[dD][89a-fA-F]")
_LONE_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def _without_lone_surrogates(value: Any) -> Any:
    """U+FFFD for each lone surrogate: JSON allows a `\\ud800` escape with no pair (JavaScript's
    JSON.stringify writes one for a cut string), which no UTF-8 text can hold (storing it
    failed with a 500). Segment's servers (Go) decode it the same way (inferred)."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_without_lone_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {_LONE_SURROGATE.sub("\ufffd", key): _without_lone_surrogates(item)
                for key, item in value.items()}
    return value


def _reason(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "the body is not UTF-8"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc)
