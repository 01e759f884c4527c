"""Time in the connector, in one place: reading Segment timestamps, writing ISO-8601 UTC, and
the rule that picks which field of a message gives its time. Pure functions of values.

Timestamps arrive in every shape the official clients and Segment's servers produce:
`2026-11-28T08:46:50.086+00:00` (Python), `2026-11-28T08:47:46.512Z` (Node),
`2024-05-03T19:42:50.066179717Z` (Engage, nanoseconds), `2015-2-02T00:30:08.276Z` (the HTTP
API's own example). `to_event_time` writes any of them as Pointillist's
`YYYY-MM-DDTHH:MM:SS.mmmZ`, truncating (never rounding) below the millisecond.

Two written forms exist because two parties are imitated: Pointillist's eventTime and Segment's
receivedAt carry milliseconds (`format_millis`); Engage writes nine fraction digits
(`format_nanos`). Both are `format_utc` with a different number of digits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

# Where a message's time (Pointillist's eventTime) comes from, in order; sentAt is never used.
TIMESTAMP_FIELDS: Final[tuple[str, ...]] = ("timestamp", "originalTimestamp", "receivedAt")

_TIMESTAMP: Final = re.compile(
    r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})[Tt ]([0-9]{1,2}):([0-9]{1,2})"
    r"(?::([0-9]{1,2})(?:[.,]([0-9]+))?)?"
    r"(?:[Zz]|([+-])([0-9]{2})(?::?([0-9]{2}))?)?"
)
_match_timestamp = _TIMESTAMP.fullmatch


# -- reading -------------------------------------------------------------------------------------


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
        # Naive on purpose: the value is shifted to UTC by hand, and format_utc reads a naive
        # datetime as UTC; no tzinfo object is needed on this hot path.
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
    return format_utc(moment)


def parse_timestamp(value: object) -> datetime | None:
    """A Segment timestamp as an aware UTC datetime (millisecond precision), or None."""
    text = to_event_time(value)
    if text is None:
        return None
    return datetime.fromisoformat(text)


# -- writing -------------------------------------------------------------------------------------


def format_utc(moment: datetime, digits: Literal[3, 9] = 3) -> str:
    """`moment` as UTC `YYYY-MM-DDTHH:MM:SS.<fraction>Z` with `digits` fraction digits: 3 is
    milliseconds (truncated, never rounded), 9 is nanoseconds (the last three always 0, as a
    datetime holds microseconds). A naive datetime is taken as UTC."""
    utc = moment if moment.tzinfo is None else moment.astimezone(UTC)
    micro = utc.microsecond
    fraction = f"{micro // 1000:03d}" if digits == 3 else f"{micro:06d}000"
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:"
        f"{utc.second:02d}.{fraction}Z"
    )


def format_millis(moment: datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SS.mmmZ`: Pointillist's eventTime and Segment's receivedAt form."""
    return format_utc(moment, 3)


def format_nanos(moment: datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`: the form Engage writes originalTimestamp in."""
    return format_utc(moment, 9)


# -- the first-timestamp rule --------------------------------------------------------------------


def first_timestamp(message: Mapping[str, Any]) -> tuple[str, Any] | None:
    """The first field of TIMESTAMP_FIELDS that is set (not null), with its raw value; None
    when none is. The chosen value decides alone: an unreadable one does not fall back to the
    next field, so every reader of a message agrees on which time it has."""
    get = message.get
    for field in TIMESTAMP_FIELDS:
        value = get(field)
        if value is not None:
            return field, value
    return None


def message_time(message: Mapping[str, Any]) -> datetime | None:
    """The message's time by the first-timestamp rule, or None when it has none or the chosen
    field does not parse."""
    found = first_timestamp(message)
    return None if found is None else parse_timestamp(found[1])
