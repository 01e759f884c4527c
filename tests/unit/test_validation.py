"""validation.py: event times, strict JSON and the event contract with its limits."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from mockserver.errors import InvalidJson
from mockserver.settings import Limits
from mockserver.validation import (
    EventValidator,
    Normalized,
    Violation,
    format_time,
    parse_event_time,
    parse_json,
)
from tests.conftest import make_event

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


# -- EventValidator -------------------------------------------------------------------------

DEFAULTS = EventValidator(Limits())


def violations(event: Any, prefix: str = "$", validator: EventValidator = DEFAULTS
               ) -> list[Violation]:
    found, normalized = validator.check(event, prefix)
    assert normalized is None, "an invalid event must not be normalized"
    assert found, "an event with nothing normalized must say why"
    return found


def paths(event: Any, prefix: str = "$") -> list[str]:
    return sorted(v.path for v in violations(event, prefix))


def test_a_valid_event_is_normalized_and_left_as_sent() -> None:
    event = make_event(eventTime="2026-11-28T11:00:00.250+01:00")
    sent = copy.deepcopy(event)
    found, normalized = DEFAULTS.check(event)
    assert found == []
    assert normalized == Normalized(
        event_time=datetime(2026, 11, 28, 10, 0, 0, 250_000, tzinfo=UTC),
        numbers={"revenue": 42.5},
    )
    assert normalized.event_time_iso == "2026-11-28T10:00:00.250Z"
    assert event == sent


def test_the_smallest_valid_event() -> None:
    event = {"eventType": "x", "eventTime": "2026-11-28T10:00:00Z",
             "actors": {"Customer": {"anonymousId": "a"}}}
    assert DEFAULTS.check(event) == (
        [], Normalized(datetime(2026, 11, 28, 10, tzinfo=UTC), {}))


@pytest.mark.parametrize("field", ["eventType", "eventTime", "actors"])
def test_each_required_field_is_named_by_its_path(field: str) -> None:
    event = make_event()
    del event[field]
    assert violations(event) == [Violation(f"$.{field}", f'"{field}" is a required property')]


def test_all_missing_fields_are_reported_at_once() -> None:
    assert paths({}) == ["$.actors", "$.eventTime", "$.eventType"]


@pytest.mark.parametrize("event", [[], "event", 42, None])
def test_an_event_that_is_not_an_object(event: Any) -> None:
    assert paths(event) == ["$"]
    assert paths(event, "$[7]") == ["$[7]"]


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"eventType": ""}, "$.eventType"),
        ({"eventType": 7}, "$.eventType"),
        ({"eventTime": ""}, "$.eventTime"),
        ({"eventTime": 1764324000}, "$.eventTime"),
        ({"eventSource": None}, "$.eventSource"),
        ({"actors": {}}, "$.actors"),  # no actor type
        ({"actors": {"Customer": {}}}, "$.actors.Customer"),  # no identifier
        ({"actors": {"Customer": {"userId": ""}}}, "$.actors.Customer.userId"),
        ({"actors": {"Customer": {"userId": 42}}}, "$.actors.Customer.userId"),
        ({"actors": {"Customer": {"userId": None}}}, "$.actors.Customer.userId"),
        ({"actors": {"Customer": "u_1"}}, "$.actors.Customer"),
        ({"labels": {"nested": {"a": "b"}}}, "$.labels.nested"),
        ({"labels": {"list": ["a"]}}, "$.labels.list"),
        ({"labels": {"nothing": None}}, "$.labels.nothing"),
        ({"numbers": {"flag": True}}, "$.numbers.flag"),  # a bool is not a number
        ({"numbers": {"none": None}}, "$.numbers.none"),
        ({"location": {"geo": [1, 2]}}, "$.location.geo"),
        ({"labels": "plan=pro"}, "$.labels"),
    ],
)
def test_schema_violations_point_at_the_field(overrides: dict[str, Any], path: str) -> None:
    assert paths(make_event(**overrides)) == [path]


def test_an_additional_top_level_property_is_rejected() -> None:
    (found,) = violations(make_event(userId="u_1"))
    assert found.path == "$"
    assert '"userId" was unexpected' in found.message


@pytest.mark.parametrize("blank", [" ", "   ", "\t\n"])
def test_a_blank_identifier_is_rejected(blank: str) -> None:
    event = make_event(actors={"Customer": {"userId": "u_1", "anonymousId": blank}})
    assert violations(event) == [
        Violation("$.actors.Customer.anonymousId", "identifier must not be blank")]


def test_an_unparseable_event_time_is_rejected_with_an_example() -> None:
    assert violations(make_event(eventTime="2026-11-28T10:00:00")) == [Violation(
        "$.eventTime",
        "\"2026-11-28T10:00:00\" is not a date-time with a zone; "
        "send ISO-8601 such as 2026-11-28T10:00:00.000Z",
    )]


def too_long(path: str, limit: int, what: str = "value") -> Violation:
    return Violation(path, f"{what} is longer than {limit} characters (rejected, never truncated)")


def test_label_and_location_values_up_to_4096_characters_pass() -> None:
    event = make_event(labels={"bio": "x" * 4096}, location={"street": "y" * 4096})
    found, normalized = DEFAULTS.check(event)
    assert found == []
    assert normalized is not None
    assert event["labels"]["bio"] == "x" * 4096


def test_label_and_location_values_over_4096_characters_are_rejected() -> None:
    event = make_event(labels={"plan": "pro", "bio": "x" * 4097},
                       location={"street": "y" * 4097})
    sent = copy.deepcopy(event)
    assert violations(event) == [too_long("$.labels.bio", 4096),
                                 too_long("$.location.street", 4096)]
    assert event == sent  # never truncated


def test_names_up_to_255_characters_pass() -> None:
    name = "n" * 255
    event = make_event(
        eventSource=name, eventType=name, actors={name: {name: name}},
        labels={name: "v"}, numbers={name: 1}, location={name: "v"},
    )
    assert DEFAULTS.check(event)[0] == []


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"eventType": "e" * 256}, too_long("$.eventType", 255)),
        ({"eventSource": "s" * 256}, too_long("$.eventSource", 255)),
        ({"actors": {"C" * 256: {"userId": "u_1"}}}, too_long("$.actors", 255, "actor type")),
        ({"actors": {"Customer": {"i" * 256: "u_1"}}},
         too_long("$.actors.Customer", 255, "identifier name")),
        ({"actors": {"Customer": {"userId": "u" * 256}}},
         too_long("$.actors.Customer.userId", 255)),
        ({"labels": {"k" * 256: "v"}}, too_long("$.labels", 255, "key")),
        ({"numbers": {"k" * 256: 1}}, too_long("$.numbers", 255, "key")),
        ({"location": {"k" * 256: "v"}}, too_long("$.location", 255, "key")),
    ],
)
def test_names_over_255_characters_are_rejected(
    overrides: dict[str, Any], expected: Violation
) -> None:
    assert violations(make_event(**overrides)) == [expected]


def test_limits_come_from_the_settings() -> None:
    small = EventValidator(Limits(max_name_length=5, max_label_length=3))
    fits = {"eventType": "Order", "eventTime": "2026-11-28T10:00:00Z",
            "actors": {"C": {"id": "u_1"}}, "labels": {"plan": "pro"}}
    assert small.check(fits)[0] == []
    over = {"eventType": "Orders", "eventTime": "2026-11-28T10:00:00Z",
            "actors": {"C": {"id": "u_1"}}, "labels": {"plan": "gold", "region": "eu"}}
    assert violations(over, validator=small) == [
        too_long("$.eventType", 5),
        too_long("$.labels.plan", 3),
        too_long("$.labels", 5, "key"),
    ]
    # The defaults take both events as they are.
    assert DEFAULTS.check(over)[0] == []


@pytest.mark.parametrize(
    ("sent", "number"),
    [
        ("80.77", 80.77),
        ("42", 42),
        ("-3", -3),
        (" 7 ", 7),
        ("0.5", 0.5),
        (".5", 0.5),
        ("5.", 5.0),
        ("1e3", 1000.0),
        ("-2.5E-1", -0.25),
        (42, 42),
        (-0.125, -0.125),
        (10**20, 10**20),
    ],
)
def test_numbers_are_normalized(sent: Any, number: int | float) -> None:
    found, normalized = DEFAULTS.check(make_event(numbers={"n": sent}))
    assert found == []
    assert normalized is not None
    assert normalized.numbers == {"n": number}
    assert type(normalized.numbers["n"]) is type(number)


@pytest.mark.parametrize(
    "sent",
    ["abc", "", " ", "NaN", "nan", "inf", "Infinity", "-", "1,5", "0x10", "1e400", "4" + "2" * 5000,
     "\u0664\u0662", 10**400, float("inf"), float("nan")],
)
def test_non_finite_or_non_numeric_numbers_are_rejected(sent: Any) -> None:
    shown = json.dumps(sent, ensure_ascii=False)  # in JSON terms, as the client sent it
    assert violations(make_event(numbers={"revenue": 1, "n": sent})) == [Violation(
        "$.numbers.n", f"{shown} is not a finite number; send a number such as 42.5")]


def test_infinite_label_and_location_numbers_are_rejected() -> None:
    event = parse_json(
        b'{"eventType": "x", "eventTime": "2026-11-28T10:00:00Z",'
        b' "actors": {"Customer": {"userId": "u"}},'
        b' "labels": {"big": 1e400, "fine": 1.5}, "location": {"lat": -1e999}}'
    )
    assert violations(event) == [
        Violation("$.labels.big", "must be finite"),
        Violation("$.location.lat", "must be finite"),
    ]


def test_every_violation_of_an_event_is_reported() -> None:
    event = make_event(
        eventTime="tomorrow",
        actors={"Customer": {"userId": " "}},
        numbers={"a": "many", "b": "2"},
        labels={"bio": "x" * 4097},
    )
    assert violations(event) == [
        Violation("$.eventTime", "\"tomorrow\" is not a date-time with a zone; "
                                 "send ISO-8601 such as 2026-11-28T10:00:00.000Z"),
        Violation("$.actors.Customer.userId", "identifier must not be blank"),
        too_long("$.labels.bio", 4096),
        Violation("$.numbers.a", "\"many\" is not a finite number; send a number such as 42.5"),
    ]


def test_a_batch_item_is_prefixed_with_its_index() -> None:
    missing = make_event()
    del missing["eventType"]
    assert violations(missing, "$[3]") == [
        Violation("$[3].eventType", '"eventType" is a required property')]
    assert paths(make_event(actors={"Customer": {"userId": 42}}), "$[3]") == [
        "$[3].actors.Customer.userId"]
    assert violations(make_event(numbers={"revenue": "lots"}), "$[3]") == [Violation(
        "$[3].numbers.revenue", "\"lots\" is not a finite number; send a number such as 42.5")]
    assert violations(make_event(actors={"Customer": {"userId": " "}}), "$[3]") == [
        Violation("$[3].actors.Customer.userId", "identifier must not be blank")]


# -- parse_json -----------------------------------------------------------------------------


def test_parse_json_reads_strict_json() -> None:
    assert parse_json(b'{"a": [1, 2.5, "\\u00e9", "\xc3\xa9", true, null]}') == {
        "a": [1, 2.5, "\u00e9", "\u00e9", True, None]}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"a": "\xff"}', "body is not valid UTF-8 (byte 7)"),
        (b"\xc3(", "body is not valid UTF-8 (byte 0)"),
        (b'{"n": NaN}', "body is not valid JSON: NaN is not a JSON number; send a finite number"),
        (b'{"n": Infinity}',
         "body is not valid JSON: Infinity is not a JSON number; send a finite number"),
        (b'{"n": -Infinity}',
         "body is not valid JSON: -Infinity is not a JSON number; send a finite number"),
        (b"", "body is not valid JSON: Expecting value at line 1 column 1"),
        (b"   ", "body is not valid JSON: Expecting value at line 1 column 4"),
        (b'{"a": 1', "body is not valid JSON: Expecting ',' delimiter at line 1 column 8"),
        (b'{"a": 1}\n{"b": 2}', "body is not valid JSON: Extra data at line 2 column 1"),
    ],
)
def test_parse_json_rejects(body: bytes, message: str) -> None:
    with pytest.raises(InvalidJson) as caught:
        parse_json(body)
    assert caught.value.message == message
    assert (caught.value.status, caught.value.code) == (400, "invalid_json")


@pytest.mark.parametrize("depth", [100_000, 5_000])
def test_parse_json_rejects_deep_nesting(depth: int) -> None:
    with pytest.raises(InvalidJson) as caught:
        parse_json(b"[" * depth + b"]" * depth)
    assert caught.value.message.startswith("body is not valid JSON: maximum recursion depth")
    assert caught.value.body()["error"]["code"] == "invalid_json"


def test_parse_json_accepts_ordinary_nesting() -> None:
    expected: list[Any] = []
    for _ in range(49):
        expected = [expected]
    assert parse_json(b"[" * 50 + b"]" * 50) == expected
