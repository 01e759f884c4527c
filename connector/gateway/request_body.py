"""Reading a Segment HTTP Tracking API body: inflating it and decoding its JSON.

Segment answers 400 `{"code", "message"}` to a body it cannot read (an encoding it does not
take, not gzip when it says so, over the size limit once inflated, not JSON, JSON text that is
not valid Unicode: a lone surrogate escape); so does this.
Pure: bytes in, a JSON value out.
"""

from __future__ import annotations

import json
import math
from typing import Any

from httpkit import inflation
from httpkit.inflation import COMPRESSED, ENCODINGS
from httpkit.problems import BodyTooLarge, UnreadableBody
from httpkit.text import find_lone_surrogate

from ..errors import InvalidRequest, InvalidText


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
    number too large for a double, such as 1e400), InvalidText for a lone surrogate."""
    if not body.strip():
        raise InvalidRequest("Invalid JSON: the body is empty")
    try:
        text = body.decode("utf-8")
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InvalidRequest(f"Invalid JSON: {_reason(exc)}") from None
    lone = find_lone_surrogate(text, value)
    if lone is not None:  # as the mock does: no UTF-8 text holds it, and no rewrite is honest
        raise InvalidText(
            f"Invalid JSON: {lone.where()} holds a lone surrogate escape {lone.escape}, which "
            "is not a character; send valid Unicode text (escape a character beyond U+FFFF "
            "as a surrogate pair)")
    return value


def _reason(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "the body is not UTF-8"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc)
