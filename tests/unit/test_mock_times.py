"""mockserver/times.py: reading the date-times clients send, writing the one form the mock
answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from mockserver.times import format_time, in_written_form, parse_event_time

# -- parse_event_time / format_time ---------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "instant", "offset"),
    [
        ("2026-11-28T10:00:00Z", datetime(2026, 11, 28, 10, 0, 0, tzinfo=UTC), timedelta(0)),
        ("2026-11-28t10:00:00z", datetime(2026, 11, 28, 10, 0, 0, tzinfo=UTC), timedelta(0)),
        ("2026-11-28T10:00:00.000Z", datetime(2026, 11, 28, 10, tzinfo=UTC), timedelta(0)),
        ("2026-11-28T10:00:00+00:00", datetime(2026, 11, 28, 10, tzinfo=UTC), timedelta(0)),
        ("2026-11-28T15:30:00+0530", datetime(2026, 11, 28, 10, tzinfo=UTC),
         timedelta(hours=5, minutes=30)),
        ("2026-11-28T15:30:00+05:30", datetime(2026, 11, 28, 10, tzinfo=UTC),
         timedelta(hours=5, minutes=30)),
        ("2026-11-28T03:00:00-0700", datetime(2026, 11, 28, 10, tzinfo=UTC),
         timedelta(hours=-7)),
        ("2026-11-28T12:00:00+02", datetime(2026, 11, 28, 10, tzinfo=UTC), timedelta(hours=2)),
        ("2026-11-28T10:00Z", datetime(2026, 11, 28, 10, tzinfo=UTC), timedelta(0)),
        # A day boundary crossed by the offset.
        ("2026-11-29T00:30:00+14:00", datetime(2026, 11, 28, 10, 30, tzinfo=UTC),
         timedelta(hours=14)),
        ("2026-11-28T23:59:00+23:59", datetime(2026, 11, 28, 0, 0, tzinfo=UTC),
         timedelta(hours=23, minutes=59)),
        # Pointillist's own example, loose form: single digits, space, basic offset.
        ("2015-9-24 7:6:23-0700", datetime(2015, 9, 24, 14, 6, 23, tzinfo=UTC),
         timedelta(hours=-7)),
        ("  2026-11-28T10:00:00Z  ", datetime(2026, 11, 28, 10, tzinfo=UTC), timedelta(0)),
    ],
)
def test_parse_event_time_accepts_zoned_forms(
    raw: str, instant: datetime, offset: timedelta
) -> None:
    parsed = parse_event_time(raw)
    assert parsed == instant
    assert parsed is not None and parsed.utcoffset() == offset


@pytest.mark.parametrize(
    ("raw", "microsecond"),
    [
        ("2026-11-28T10:00:00.1Z", 100_000),
        ("2026-11-28T10:00:00.123Z", 123_000),
        ("2026-11-28T10:00:00.123456Z", 123_456),
        ("2026-11-28T10:00:00.123456789Z", 123_456),  # nanoseconds: cut to microseconds
        ("2026-11-28T10:00:00.999999999Z", 999_999),  # cut, never rounded up to 10:00:01
        ("2026-11-28T10:00:00,5Z", 500_000),  # ISO-8601 allows a comma
        ("2026-11-28T10:00:00,25+01:00", 250_000),
    ],
)
def test_parse_event_time_fractions(raw: str, microsecond: int) -> None:
    parsed = parse_event_time(raw)
    assert parsed is not None
    assert parsed.microsecond == microsecond
    assert parsed.second == 0


@pytest.mark.parametrize(
    "raw",
    [
        "2026-11-28T10:00:00",  # no zone
        "2026-11-28 10:00:00",
        "2026-11-28",  # date only
        "2026-11-28Z",
        "2026-13-01T00:00:00Z",  # month 13
        "2026-00-10T00:00:00Z",
        "2026-02-30T00:00:00Z",
        "2026-11-28T24:00:00Z",
        "2026-11-28T10:60:00Z",
        "2026-11-28T10:00:60Z",
        "2026-11-28T10:00:00+24:00",  # offset out of range
        "2026-11-28T10:00:00-24:00",
        "2026-11-28T10:00:00+05:60",  # offset minutes out of range
        "2026-11-28T10:00:00+0599",
        "2026-11-28T10:00:00+05:",
        "2026-11-28T10:00:00.1234567890Z",  # more than 9 fractional digits
        "2026-11-28T10:00:00.Z",
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
        "9999-12-31T23:00:00-05:00",  # after year 9999 in UTC
        "\u0662\u0660\u0662\u0666-11-28T10:00:00Z",  # Arabic-Indic digits are not ISO-8601
        "\uff12\uff10\uff12\uff16-11-28T10:00:00Z",  # fullwidth digits
        "1764324000",
        "yesterday",
        "",
        "2026-11-28T10:00:00Z trailing",
    ],
)
def test_parse_event_time_rejects(raw: str) -> None:
    assert parse_event_time(raw) is None


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2026, 11, 28, 10, tzinfo=UTC), "2026-11-28T10:00:00.000Z"),
        (datetime(2026, 11, 28, 10, 0, 0, 123_999, tzinfo=UTC), "2026-11-28T10:00:00.123Z"),
        (datetime(2026, 11, 28, 23, 59, 59, 999_999, tzinfo=UTC), "2026-11-28T23:59:59.999Z"),
        (datetime(2026, 1, 1, 1, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))),
         "2025-12-31T20:00:00.000Z"),
        (datetime(2015, 9, 24, 7, 6, 23, tzinfo=timezone(timedelta(hours=-7))),
         "2015-09-24T14:06:23.000Z"),
        (datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC), "0999-01-02T03:04:05.000Z"),
        (datetime(1, 1, 1, tzinfo=UTC), "0001-01-01T00:00:00.000Z"),
    ],
)
def test_format_time_is_utc_with_milliseconds(moment: datetime, text: str) -> None:
    assert format_time(moment) == text


def test_parsed_times_format_to_one_sortable_form() -> None:
    texts = [
        "2015-9-24 7:6:23-0700",
        "2026-11-28T10:00:00.123456789Z",
        "2026-11-28T11:00:00,5+01:00",
        "0999-01-01T00:00:00Z",
    ]
    formatted = []
    for raw in texts:
        parsed = parse_event_time(raw)
        assert parsed is not None
        formatted.append(format_time(parsed))
    assert formatted == [
        "2015-09-24T14:06:23.000Z",
        "2026-11-28T10:00:00.123Z",
        "2026-11-28T10:00:00.500Z",
        "0999-01-01T00:00:00.000Z",
    ]
    # Strings compare like the instants they stand for (the store relies on it).
    assert sorted(formatted) == [formatted[3], formatted[0], formatted[1], formatted[2]]


@pytest.mark.parametrize("sent", [
    "2026-11-28T10:00:00.123Z", "2024-02-29T10:00:00.000Z", "0001-01-01T00:00:00.000Z",
    "9999-12-31T23:59:59.999Z", "2025-02-29T10:00:00.000Z", "2026-11-28T24:00:00.000Z",
    "2026-11-28T23:60:00.000Z", "2026-11-28T23:59:60.000Z", "0000-01-01T00:00:00.000Z",
    "2026-00-10T10:00:00.000Z", "2026-11-00T10:00:00.000Z",
])
def test_the_written_form_reads_as_the_general_parser_reads_it(sent: str) -> None:
    assert in_written_form(sent)
    general = parse_event_time(" " + sent)  # a leading space: the general parser
    assert parse_event_time(sent) == general
    if general is not None:
        assert format_time(general) == sent  # what validation keeps as the event's time
