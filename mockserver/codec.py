"""The mock's JSON codec: strict reading of request bodies, and the compact text the store and
the journal keep. Pure: bytes or text in, values out (and back). No aiohttp imports.

orjson does the work; the json module is the judge of anything orjson would read or write
differently (integers beyond 64 bits, lone surrogates, NaN), so the answers are the json
module's, word for word, only faster.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from httpkit.text import find_lone_surrogate
from mockserver.errors import InvalidJson

# orjson reads an integer beyond 64 bits as a float: a body with a run of 19 digits goes to json.
# (Found by mapping every digit to "0" and everything else to " ": five times faster than re.)
_DIGITS_AS_ZERO = bytes(48 if 48 <= byte <= 57 else 32 for byte in range(256))
_LONG_DIGIT_RUN = b"0" * 19
# dump_json starts the text it could only write with the json module with this (JSON whitespace):
# load_json then reads it with the json module too.
_JSON_ONLY = " "


def parse_json(body: bytes) -> Any:
    """Strict JSON: UTF-8 only, no NaN/Infinity, bounded nesting."""
    if _LONG_DIGIT_RUN not in body.translate(_DIGITS_AS_ZERO):
        try:  # what orjson reads, the json module reads the same (it is stricter, never laxer)
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass  # the json module below says what is wrong, in its words
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidJson(f"body is not valid UTF-8 (byte {exc.start})") from None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise InvalidJson(f"body is not valid JSON: {exc.msg} at {where}") from None
    except (ValueError, RecursionError) as exc:
        raise InvalidJson(f"body is not valid JSON: {exc}") from None
    lone = find_lone_surrogate(text, value)  # a lone \ud800 cannot be stored as UTF-8
    if lone is not None:
        raise InvalidJson(
            f"body holds a lone surrogate escape {lone.escape}, which is not a character "
            "(escape an astral character as a surrogate pair)"
        )
    return value


def dump_json(value: Any) -> str:
    """Compact JSON text (non-ASCII kept as is) that `load_json` and json.loads read back equal.

    For values that passed validation: their floats are finite (orjson writes NaN as null)."""
    try:
        return orjson.dumps(value).decode("utf-8")
    except TypeError:  # orjson refuses integers beyond 64 bits and lone surrogates
        return _JSON_ONLY + json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def load_json(text: str) -> Any:
    """Read what `dump_json` wrote: with orjson when it wrote it, else with the json module."""
    if text.startswith(_JSON_ONLY):
        return json.loads(text)
    return orjson.loads(text)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number; send a finite number")
