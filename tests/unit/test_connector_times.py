"""connector/times.py: the written forms (milliseconds and Engage's nanoseconds) and the
first-timestamp rule every reader of a message shares. Expected values are written by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from connector.times import (
    first_timestamp,
    format_millis,
    format_nanos,
    format_utc,
    message_time,
    parse_timestamp,
    to_event_time,
)

PLUS_TWO = timezone(timedelta(hours=2))


def test_format_millis_writes_utc_milliseconds() -> None:
    assert format_millis(datetime(2026, 1, 2, 3, 4, 5, 678999, tzinfo=PLUS_TWO)) == (
        "2026-01-02T01:04:05.678Z")
    assert format_millis(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05.000Z"


def test_format_nanos() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert format_nanos(moment) == "2026-01-02T03:04:05.000006000Z"
    eastern = datetime(2026, 1, 1, 22, 4, 5, 6, tzinfo=timezone(timedelta(hours=-5)))
    assert format_nanos(eastern) == "2026-01-02T03:04:05.000006000Z"


def test_the_named_forms_are_format_utc_with_their_digits() -> None:
    moment = datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert format_utc(moment) == format_millis(moment) == "0999-12-31T23:59:59.999Z"
    assert format_utc(moment, 9) == format_nanos(moment) == "0999-12-31T23:59:59.999999000Z"


@pytest.mark.parametrize(("message", "expected"), [
    ({"timestamp": "a", "originalTimestamp": "b", "receivedAt": "c"}, ("timestamp", "a")),
    ({"timestamp": None, "originalTimestamp": "b", "receivedAt": "c"},
     ("originalTimestamp", "b")),
    ({"receivedAt": "c", "sentAt": "d"}, ("receivedAt", "c")),
    ({"sentAt": "d"}, None),
    ({"timestamp": "", "receivedAt": "c"}, ("timestamp", "")),
])
def test_first_timestamp_is_the_first_field_set(
    message: dict[str, Any], expected: tuple[str, Any] | None
) -> None:
    assert first_timestamp(message) == expected


def test_message_time_never_falls_back_past_an_unreadable_first_field() -> None:
    good = "2026-11-28T10:00:00.250+01:00"
    assert message_time({"timestamp": good}) == datetime(2026, 11, 28, 9, 0, 0, 250000,
                                                         tzinfo=UTC)
    assert message_time({"timestamp": "yesterday", "receivedAt": good}) is None
    assert message_time({}) is None


def test_parse_and_write_agree() -> None:
    text = "2024-05-03T19:42:50.066179717Z"
    assert to_event_time(text) == "2024-05-03T19:42:50.066Z"
    parsed = parse_timestamp(text)
    assert parsed is not None
    assert format_millis(parsed) == "2024-05-03T19:42:50.066Z"
    assert format_nanos(parsed) == "2024-05-03T19:42:50.066000000Z"
