"""Segment message helpers: call types, identifiers, timestamps. Pure functions of values.

Timestamps arrive in every shape the official clients and Segment's servers produce:
`2026-11-28T08:46:50.086+00:00` (Python), `2026-11-28T08:47:46.512Z` (Node),
`2024-05-03T19:42:50.066179717Z` (Engage, nanoseconds), `2015-2-02T00:30:08.276Z` (the HTTP
API's own example). `to_event_time` writes any of them as Pointillist's
`YYYY-MM-DDTHH:MM:SS.mmmZ`, truncating (never rounding) below the millisecond.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from .errors import MappingError

IDENTIFY: Final = "identify"
TRACK: Final = "track"
PAGE: Final = "page"
SCREEN: Final = "screen"
GROUP: Final = "group"
ALIAS: Final = "alias"
MESSAGE_TYPES: Final[frozenset[str]] = frozenset({IDENTIFY, TRACK, PAGE, SCREEN, GROUP, ALIAS})

# Where eventTime comes from, in order; sentAt is never used.
TIMESTAMP_FIELDS: Final[tuple[str, ...]] = ("timestamp", "originalTimestamp", "receivedAt")

_TIMESTAMP: Final = re.compile(
    r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})[Tt ]([0-9]{1,2}):([0-9]{1,2})"
    r"(?::([0-9]{1,2})(?:[.,]([0-9]+))?)?"
    r"(?:[Zz]|([+-])([0-9]{2})(?::?([0-9]{2}))?)?"
)
_match_timestamp = _TIMESTAMP.fullmatch


def is_object(value: object) -> bool:
    """A JSON object (a dict, or any other Mapping)."""
    return type(value) is dict or isinstance(value, Mapping)


def message_type(message: Mapping[str, Any]) -> str | None:
    """The call type when it is one of the six Segment calls, else None."""
    value = message.get("type")
    return value if type(value) is str and value in MESSAGE_TYPES else None


def message_id(message: Mapping[str, Any]) -> str | None:
    """The messageId as a string (a number is written in decimal), or None when absent or blank."""
    value = message.get("messageId")
    if type(value) is str:
        return value if value.strip() else None
    if type(value) is int:
        return str(value)
    return None


def identifier(message: Mapping[str, Any], field: str) -> str | None:
    """userId or anonymousId as Pointillist takes it, or None when absent.

    Absent: missing, null, "" or only whitespace (Pointillist rejects blank identifiers). A number
    becomes its decimal string, as JavaScript writes it (42 -> "42", 42.0 -> "42", 1.5 -> "1.5").
    Anything else (a bool, an object, an array, NaN) is an invalid_type error naming the field.
    """
    value = message.get(field)
    kind = type(value)
    if kind is str:
        return value if value and not value.isspace() else None
    if value is None:
        return None
    try:
        if kind is int:
            return str(value)
        if kind is float and math.isfinite(value):
            return str(int(value)) if value.is_integer() else repr(value)
    except ValueError:  # an int with more digits than Python writes
        pass
    raise MappingError("invalid_type", field, f"{field} must be a string or a number")


def to_event_time(value: object) -> str | None:
    """A Segment timestamp as `YYYY-MM-DDTHH:MM:SS.mmmZ` in UTC, or None when unparseable.

    Offsets are converted to UTC, a value without a zone is UTC, digits below the millisecond
    are truncated, a missing fraction is .000, month and day need not be zero-padded. A date
    without a time, "" and anything that is not a string are unparseable.
    """
    if type(value) is not str:
        return None
    match = _match_timestamp(value)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, sign, off_h, off_m = match.groups()
    millis = int(fraction[:3].ljust(3, "0")) if fraction else 0
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute),
            int(second) if second else 0, millis * 1000,
        )
        if sign is not None:
            hours, minutes = int(off_h), int(off_m) if off_m else 0
            if hours > 23 or minutes > 59:
                return None
            shift = hours * 60 + minutes
            if shift:
                moment -= timedelta(minutes=shift if sign == "+" else -shift)
    except (ValueError, OverflowError):  # not a real date (2026-13-01, 24:00, year 0 ...)
        return None
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}.{millis:03d}Z"
    )


def parse_timestamp(value: object) -> datetime | None:
    """A Segment timestamp as an aware UTC datetime (millisecond precision), or None."""
    text = to_event_time(value)
    if text is None:
        return None
    return datetime.fromisoformat(text)


def event_time(message: Mapping[str, Any]) -> str:
    """Pointillist eventTime of a message: the first non-null of TIMESTAMP_FIELDS, written UTC.

    The chosen value must parse: there is no fallback to the next field.
    """
    get = message.get
    for field in TIMESTAMP_FIELDS:
        value = get(field)
        if value is not None:
            text = to_event_time(value)
            if text is None:
                reason = f"{field} is not an ISO-8601 date-time: {_show(value)}"
                raise MappingError("invalid_timestamp", field, reason)
            return text
    raise MappingError(
        "missing_field", "timestamp", "none of timestamp, originalTimestamp, receivedAt is set"
    )


def _show(value: object) -> str:
    """A short, safe description of a value for an error message (never a deep repr)."""
    if type(value) is str:
        return repr(value if len(value) <= 60 else value[:60] + "...")
    return f"a {type(value).__name__}"
