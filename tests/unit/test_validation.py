"""validation.py: the event contract with its limits."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from mockserver.codec import parse_json
from mockserver.settings import Limits
from mockserver.validation.events import EventValidator, Normalized, Violation
from tests.conftest import make_event

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


def test_label_and_location_values_up_to_32768_characters_pass() -> None:
    event = make_event(labels={"bio": "x" * 32768}, location={"street": "y" * 32768})
    found, normalized = DEFAULTS.check(event)
    assert found == []
    assert normalized is not None
    assert event["labels"]["bio"] == "x" * 32768


def test_label_and_location_values_over_32768_characters_are_rejected() -> None:
    event = make_event(labels={"plan": "pro", "bio": "x" * 32769},
                       location={"street": "y" * 32769})
    sent = copy.deepcopy(event)
    assert violations(event) == [too_long("$.labels.bio", 32768),
                                 too_long("$.location.street", 32768)]
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
        labels={"bio": "x" * 32769},
    )
    assert violations(event) == [
        Violation("$.eventTime", "\"tomorrow\" is not a date-time with a zone; "
                                 "send ISO-8601 such as 2026-11-28T10:00:00.000Z"),
        Violation("$.actors.Customer.userId", "identifier must not be blank"),
        too_long("$.labels.bio", 32768),
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


# -- the compiled check (limits folded into the schema) --------------------------------------

PYTHON_SPACES = [chr(c) for c in range(0x110000) if chr(c).isspace()]


@pytest.mark.parametrize("space", PYTHON_SPACES, ids=[f"U+{ord(c):04X}" for c in PYTHON_SPACES])
def test_an_identifier_of_any_python_whitespace_is_blank(space: str) -> None:
    event = make_event(actors={"Customer": {"userId": space * 2}})
    assert violations(event) == [Violation("$.actors.Customer.userId",
                                           "identifier must not be blank")]


NEAR_LIMITS: list[dict[str, Any]] = [
    {"eventType": "e" * 255}, {"eventType": "e" * 256}, {"eventSource": "s" * 256},
    {"actors": {"C" * 256: {"userId": "u"}}}, {"actors": {"Customer": {"i" * 256: "u"}}},
    {"actors": {"Customer": {"userId": "u" * 255}}},
    {"actors": {"Customer": {"userId": "u" * 256}}},
    {"actors": {"Customer": {"userId": "用户"}}}, {"actors": {"Customer": {"userId": "\x1c"}}},
    {"actors": {"Customer": {"userId": " \u3000x"}}},
    {"labels": {"k": "v" * 32768}}, {"labels": {"k": "v" * 32769}}, {"labels": {"k" * 256: 1}},
    {"location": {"city": float("inf")}}, {"labels": {"big": 10**400}}, {"labels": {"n": -1e308}},
    {"numbers": {"n": "42.5"}}, {"numbers": {"n": "1e999"}}, {"numbers": {"n": "٤٢"}},
    {"numbers": {"n": 10**400}}, {"numbers": {"n" * 256: 1}}, {"numbers": {"b": True}},
    {"eventTime": "2026-11-28 10:00:00+0100"}, {"eventTime": "2026-13-28T10:00:00Z"},
]


@pytest.mark.parametrize("overrides", NEAR_LIMITS)
def test_the_compiled_check_answers_as_the_full_one(overrides: dict[str, Any]) -> None:
    for limits in (Limits(), Limits(max_name_length=3, max_label_length=4)):
        validator = EventValidator(limits)
        event = make_event(**overrides)
        assert validator.check(event, "$[1]") == validator.check_fully(event, "$[1]")


def test_a_valid_event_takes_only_the_compiled_check(monkeypatch: pytest.MonkeyPatch) -> None:
    validator = EventValidator(Limits())
    full: list[Any] = []
    real = validator.check_fully

    def counted(event: Any, prefix: str = "$") -> tuple[list[Violation], Normalized | None]:
        full.append(event)
        return real(event, prefix)

    monkeypatch.setattr(validator, "check_fully", counted)
    assert validator.check(make_event())[0] == []
    assert full == []
    assert validator.check(make_event(eventType="e" * 256))[1] is None
    assert len(full) == 1
