"""Time for the mock: reading the date-times clients send, and writing the one form it answers.

Every time the mock writes (stored events, `receivedAt`, query bounds) is UTC with milliseconds,
`2026-11-28T10:00:00.000Z`, so stored times compare as strings. Pure apart from the two helpers
that read the wall clock (`now_text`, `http_date`), named for it.
"""

from __future__ import annotations

import math
import re
import time
from datetime import UTC, datetime, timedelta, timezone
from email.utils import formatdate

# ISO-8601 and the loose form of Pointillist's own example ("2015-9-24 7:6:23-0700").
_EVENT_TIME = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})[Tt ](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:[.,](\d{1,9}))?)?"
    r"\s*(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)$",
    re.ASCII,  # ASCII digits only: int() would also read "٢٠٢٦" or fullwidth digits
)


# The one form the mock writes (format_time's), which most clients send too.
_WRITTEN_FORM = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", re.ASCII)


def in_written_form(value: str) -> bool:
    """Whether `value` looks like what format_time writes (a valid one reads back the same)."""
    return len(value) == 24 and _WRITTEN_FORM.fullmatch(value) is not None


def format_time(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    # By hand, not strftime: "%Y" does not zero-pad years before 1000 on glibc (and this is
    # three times faster).
    return (f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:"
            f"{utc.second:02d}.{utc.microsecond // 1000:03d}Z")


def parse_event_time(value: str) -> datetime | None:
    """A date-time with a zone, or None. Sub-microsecond digits are cut, never rounded."""
    if in_written_form(value):  # the usual case, read by the C parser: the same date or None
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    match = _EVENT_TIME.match(value.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zulu, sign, tz_h, tz_m = match.groups()
    offset = timedelta(0)
    if not zulu:
        offset = timedelta(hours=int(tz_h), minutes=int(tz_m or 0))
        if int(tz_m or 0) >= 60 or offset >= timedelta(hours=24):
            return None
        if sign == "-":
            offset = -offset
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second or 0),
            int((fraction or "0").ljust(6, "0")[:6]), tzinfo=timezone(offset),
        )
        moment.astimezone(UTC)  # must exist in UTC: 0001-01-01T00:00+01:00 does not
    except (ValueError, OverflowError):
        return None
    return moment


def now_text() -> str:
    """The wall-clock time now, as the mock writes times (`receivedAt` of what it records)."""
    return format_time(datetime.now(UTC))


def http_date(seconds_ahead: int) -> str:
    """An HTTP date (RFC 9110 IMF-fixdate) `seconds_ahead` from now, as Retry-After takes it.

    Whole seconds, rounded up: the date is never sooner than `seconds_ahead` from now."""
    return formatdate(math.ceil(time.time() + seconds_ahead), usegmt=True)
