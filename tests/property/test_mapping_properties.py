"""Properties of the pure mapping (connector/mapping.py), over generated Segment messages.

1. A generated identify/track/page/screen message, with random traits/properties/context blocks
   of arbitrary JSON values, random identifier presence and random timestamp forms, is mapped
   to an event that is valid against components.schemas.Event of contracts/pointillist-openapi.yaml
   (and the stricter event of contracts/mapping/case.schema.json), or raises MappingError;
   never anything else. A small model of contracts/mapping/README.md says which: the skip, the
   possible errors, or the whole expected event.
   Nothing is silently dropped: every non-null leaf of traits/properties (and of the four mapped
   context blocks) is in labels or numbers under its flattened key, arrays JSON-encoded, unless
   a later source (or a later key of the same source) writes the same key.
2. Arbitrary JSON garbage, at the top or in any field, raises nothing but MappingError.
"""

from __future__ import annotations

import copy
import json
import math
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from connector import (
    DEFAULT_MAPPING_SETTINGS,
    Mapped,
    MappingError,
    MappingSettings,
    Skipped,
    SkipReason,
    map_message,
)

ROOT = Path(__file__).resolve().parents[2]
MISSING: Any = object()  # a field left out of the message
CONTEXT_BLOCKS = (("location", "location."), ("campaign", "campaign."), ("device", "device."),
                  ("traits", "traits."))
TIMESTAMP_FIELDS = ("timestamp", "originalTimestamp", "receivedAt")
ERROR_CODES = {"missing_identifier", "missing_field", "invalid_type", "invalid_timestamp"}
# Bounded so that the whole file runs in well under 20 s.
PROFILE = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _openapi_event_validator() -> Draft202012Validator:
    spec = yaml.safe_load((ROOT / "contracts" / "pointillist-openapi.yaml").read_text("utf-8"))
    schema = spec["components"]["schemas"]["Event"]
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _golden_event_validator() -> Draft202012Validator:
    case_schema = json.loads((ROOT / "contracts" / "mapping" / "case.schema.json").read_text())
    return Draft202012Validator({"$ref": "#/$defs/event", "$defs": case_schema["$defs"]})


OPENAPI_EVENT = _openapi_event_validator()
GOLDEN_EVENT = _golden_event_validator()


def assert_valid_event(event: dict[str, Any]) -> None:
    assert [e.message for e in OPENAPI_EVENT.iter_errors(event)] == []
    assert [e.message for e in GOLDEN_EVENT.iter_errors(event)] == []
    for value in event["numbers"].values():  # the contract's numbers are finite
        assert isinstance(value, int) or math.isfinite(value)
    assert "location" not in event


def same_json(a: Any, b: Any) -> bool:
    """Equal as JSON values: 42 is not 42.0 and 1 is not true."""
    return a == b and json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


# ---------------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------------

# Few distinct keys, some dotted, so that flattened keys collide across and within sources.
keys = st.one_of(
    st.sampled_from(["a", "b", "a.b", "city", "source", "x.y", ""]), st.text(max_size=5)
)
json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
json_values = st.recursive(
    json_leaves,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(keys, children, max_size=3),
    max_leaves=10,
)
json_objects = st.dictionaries(keys, json_values, max_size=5)
# Anything JSON-like, NaN and the infinities included (Python's json module reads them).
garbage = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8)),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=15,
)

# Smaller garbage for each of a message's fields.
field_garbage = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=6)),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=6,
)


USUALLY = st.sampled_from([True, True, True, True, False])


@st.composite
def mostly(draw: st.DrawFn, usual: st.SearchStrategy[Any], unusual: st.SearchStrategy[Any]) -> Any:
    """usual about four times in five, so that most generated messages map to an event.

    (st.one_of(usual, usual, usual, usual, unusual) would not do: equal branches count once.)
    """
    return draw(usual) if draw(USUALLY) else draw(unusual)


identifiers = mostly(
    st.text(min_size=1, max_size=8) | st.integers(min_value=0, max_value=10**15),
    st.sampled_from([MISSING, None, "", "  "]),
)
ZONE_FORMS = ("Z", "+00:00", "offset", "offset-no-colon", "none")
FRACTION_DIGITS = (0, 1, 2, 3, 6, 9)


@st.composite
def valid_timestamps(draw: st.DrawFn) -> tuple[str, str]:
    """(a Segment timestamp in one of the clients' forms, the eventTime it must become)."""
    local = draw(st.datetimes(min_value=datetime(1001, 1, 1), max_value=datetime(9998, 12, 31)))
    zone = draw(st.sampled_from(ZONE_FORMS))
    offset = draw(st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59))
    if zone in ("Z", "+00:00", "none"):
        offset = 0
    digits = draw(st.sampled_from(FRACTION_DIGITS))
    fraction = f"{local.microsecond:06d}" + draw(st.text("0123456789", min_size=3, max_size=3))
    fraction = fraction[:digits]
    pad = draw(st.booleans())
    date = f"{local.year:04d}-{local.month:02d}-{local.day:02d}" if pad else (
        f"{local.year:04d}-{local.month}-{local.day}"
    )
    text = f"{date}T{local.hour:02d}:{local.minute:02d}:{local.second:02d}"
    if digits:
        text += "." + fraction
    sign = "-" if offset < 0 else "+"
    hours, minutes = divmod(abs(offset), 60)
    text += {
        "Z": "Z",
        "+00:00": "+00:00",
        "none": "",
        "offset": f"{sign}{hours:02d}:{minutes:02d}",
        "offset-no-colon": f"{sign}{hours:02d}{minutes:02d}",
    }[zone]
    micro = int(fraction[:6].ljust(6, "0")) if digits else 0
    utc = local.replace(microsecond=micro) - timedelta(minutes=offset)
    expected = utc.strftime("%Y-%m-%dT%H:%M:%S") + f".{utc.microsecond // 1000:03d}Z"
    return text, expected


INVALID_TIMESTAMP_TEXT = [
    "", "yesterday", "2026-11-28", "not-a-date", "2026-13-28T08:46:51.004Z",
    "2026-02-30T00:00:00Z", "2026-11-28T25:00:00Z", "2026-11-28T08:46:50+24:00",
    "2026-11-28T08:46:50.086Z\n", "1795855666512",
]
invalid_timestamps = st.one_of(
    st.sampled_from(INVALID_TIMESTAMP_TEXT),
    st.integers(),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
).map(lambda value: (value, None))
# (the field's value, the eventTime it becomes, or None when it is unparseable)
timestamp_fields = mostly(
    valid_timestamps(), st.sampled_from([(MISSING, None), (None, None)]) | invalid_timestamps
)

context_blocks = st.fixed_dictionaries(
    {},
    optional={
        "location": json_values | json_objects,
        "campaign": json_values | json_objects,
        "device": json_values | json_objects,
        "traits": json_values | json_objects,
        # Blocks that are never mapped.
        "ip": json_leaves, "library": json_values, "page": json_objects, "personas": json_objects,
    },
)
contexts = mostly(context_blocks, st.sampled_from([MISSING, None, "web", 5, [1]]))
payloads = mostly(
    st.dictionaries(keys, json_values, min_size=1, max_size=6),
    json_objects | st.sampled_from([MISSING, None, [{"email": "a@b.c"}], "vip", 7]),
)
integrations = mostly(
    st.sampled_from(
        [MISSING, {}, {"All": True, "Mixpanel": False}, {"All": False, "Pointillist": True}]
    ),
    st.sampled_from([
        {"Pointillist": False}, {"All": True, "Pointillist": False}, {"All": False},
        {"All": False, "HubSpot": True}, "not-an-object",
    ]),
)
event_names = mostly(st.text(min_size=1, max_size=12), st.sampled_from([MISSING, None, "", 42]))
page_names = mostly(st.text(max_size=8), st.sampled_from([MISSING, None, 42]))
mapping_settings = st.builds(
    MappingSettings, actor_type=st.sampled_from(["Customer", "Visitor"]),
    map_page_screen=st.booleans(),
)


@st.composite
def segment_messages(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, str | None]]:
    """(a Segment message, the eventTime each timestamp field's value stands for)."""
    kind = draw(mostly(st.sampled_from(["identify", "track"]), st.sampled_from(["page", "screen"])))
    fields: dict[str, Any] = {
        "type": kind,
        "userId": draw(identifiers),
        "anonymousId": draw(identifiers),
        "messageId": draw(st.one_of(st.just(MISSING), st.uuids().map(str))),
        "integrations": draw(integrations),
        "context": draw(contexts),
        "sentAt": draw(st.sampled_from([MISSING, None, "2026-11-28T08:46:50.586527+00:00"])),
        "_metadata": draw(st.sampled_from([MISSING, {"nodeVersion": "v20.20.2"}])),
    }
    if kind == "identify":
        fields["traits"] = draw(payloads)
        fields["properties"] = draw(st.one_of(st.just(MISSING), json_values))  # not mapped
    else:
        fields["properties"] = draw(payloads)
        fields["traits"] = draw(st.one_of(st.just(MISSING), json_values))  # not mapped
    if kind == "track":
        fields["event"] = draw(event_names)
    if kind in ("page", "screen"):
        fields["name"] = draw(page_names)
    times: dict[str, str | None] = {}
    for field in TIMESTAMP_FIELDS:
        fields[field], times[field] = draw(timestamp_fields)
    message = {key: value for key, value in fields.items() if value is not MISSING}
    return message, times


# ---------------------------------------------------------------------------------------------
# The model: contracts/mapping/README.md, written out plainly
# ---------------------------------------------------------------------------------------------


def model_identifier(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and (value == "" or value.isspace())):
        return None
    return str(value)


def leaves(prefix: str, obj: dict[str, Any]) -> list[tuple[str, Any]]:
    """Every non-null leaf of obj with its flattened key, in order; arrays are leaves."""
    found: list[tuple[str, Any]] = []
    for key, value in obj.items():
        if isinstance(value, dict):
            found.extend(leaves(f"{prefix}{key}.", value))
        elif value is not None:
            found.append((prefix + key, value))
    return found


def label_or_number(value: Any) -> str | int | float:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    if isinstance(value, list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    assert isinstance(value, str)
    return value


def sources(message: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(prefix, object) of every mapped source, in overwrite order."""
    found = []
    context = message.get("context")
    if isinstance(context, dict):
        for block, prefix in CONTEXT_BLOCKS:
            if isinstance(context.get(block), dict):
                found.append((prefix, context[block]))
    payload = message.get("traits" if message["type"] == "identify" else "properties")
    if isinstance(payload, dict):
        found.append(("", payload))
    return found


def expected_errors(message: dict[str, Any], times: dict[str, str | None]) -> set[tuple[str, str]]:
    errors = set()
    kind = message["type"]
    if model_identifier(message.get("userId")) is None and model_identifier(
        message.get("anonymousId")
    ) is None:
        errors.add(("missing_identifier", "userId|anonymousId"))
    if kind == "track" and not (isinstance(message.get("event"), str) and message["event"]):
        errors.add(("missing_field", "event"))
    if kind in ("page", "screen") and message.get("name") not in (None, "") and not isinstance(
        message["name"], str
    ):
        errors.add(("invalid_type", "name"))
    source = "traits" if kind == "identify" else "properties"
    for field in ("context", source):
        if message.get(field) is not None and not isinstance(message[field], dict):
            errors.add(("invalid_type", field))
    chosen = [f for f in TIMESTAMP_FIELDS if message.get(f) is not None]
    if not chosen:
        errors.add(("missing_field", "timestamp"))
    elif times[chosen[0]] is None:
        errors.add(("invalid_timestamp", chosen[0]))
    return errors


def expected_skip(message: dict[str, Any], config: MappingSettings) -> SkipReason | None:
    flags = message.get("integrations")
    if isinstance(flags, dict) and (
        flags.get("Pointillist") is False
        or (flags.get("All") is False and flags.get("Pointillist") is not True)
    ):
        return "disabled_in_integrations"
    if message["type"] in ("page", "screen") and not config.map_page_screen:
        return "unsupported_message_type"
    return None


def expected_event(
    message: dict[str, Any], times: dict[str, str | None], config: MappingSettings
) -> dict[str, Any]:
    kind = message["type"]
    if kind == "identify":
        event_type = "identify"
    elif kind == "track":
        event_type = message["event"]
    else:
        noun = "Page" if kind == "page" else "Screen"
        name = message.get("name")
        event_type = f"Viewed {name} {noun}" if name else f"Viewed {noun}"
    chosen = next(f for f in TIMESTAMP_FIELDS if message.get(f) is not None)
    ids = {
        field: model_identifier(message.get(field))
        for field in ("userId", "anonymousId")
        if model_identifier(message.get(field)) is not None
    }
    written: dict[str, str | int | float] = {}
    for prefix, obj in sources(message):
        for key, value in leaves(prefix, obj):
            written.pop(key, None)
            written[key] = label_or_number(value)
    return {
        "eventSource": "Segment",
        "eventType": event_type,
        "eventTime": times[chosen],
        "actors": {config.actor_type: ids},
        "labels": {k: v for k, v in written.items() if isinstance(v, str)},
        "numbers": {k: v for k, v in written.items() if not isinstance(v, str)},
    }


def assert_nothing_dropped(message: dict[str, Any], event: dict[str, Any]) -> None:
    """Every non-null leaf of every mapped source is in labels or numbers under its flattened
    key (arrays JSON-encoded), unless a later leaf writes the same key."""
    written = [leaf for prefix, obj in sources(message) for leaf in leaves(prefix, obj)]
    for position, (key, value) in enumerate(written):
        if any(later_key == key for later_key, _ in written[position + 1:]):
            continue  # overwritten by a later source, or a later key of the same source
        if isinstance(value, list):
            encoded = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
            assert event["labels"][key] == encoded
            assert json.loads(event["labels"][key]) == value
        elif isinstance(value, bool):
            assert event["labels"][key] == ("true" if value else "false")
        elif isinstance(value, int | float):
            assert same_json(event["numbers"][key], value)
        else:
            assert event["labels"][key] == value


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------


@PROFILE
@given(segment_messages(), mapping_settings)
def test_a_message_maps_to_a_valid_event_dropping_nothing_or_raises_mapping_error(
    generated: tuple[dict[str, Any], dict[str, str | None]], config: MappingSettings
) -> None:
    message, times = generated
    before = copy.deepcopy(message)
    skip = expected_skip(message, config)
    errors = expected_errors(message, times)
    try:
        result = map_message(message, config)
    except MappingError as error:
        assert skip is None
        assert (error.code, error.field) in errors
        return
    finally:
        assert message == before, "map_message must not modify its input"
    if skip is not None:
        assert result == Skipped(message["type"], skip, message.get("messageId"))
        return
    assert errors == set()
    assert isinstance(result, Mapped)
    assert_valid_event(result.event)
    assert_nothing_dropped(message, result.event)
    assert same_json(result.event, expected_event(message, times, config))
    assert result.message_id == message.get("messageId")


def _outcome_of_garbage(value: Any, config: MappingSettings = DEFAULT_MAPPING_SETTINGS) -> None:
    try:
        result = map_message(value, config)
    except MappingError as error:
        assert error.code in ERROR_CODES
        assert isinstance(error.field, str) and error.field
        return
    assert isinstance(result, Mapped | Skipped)
    if isinstance(result, Mapped):
        assert_valid_event(result.event)


@PROFILE
@given(garbage)
def test_garbage_at_the_top_raises_nothing_but_mapping_error(value: Any) -> None:
    _outcome_of_garbage(value)


MESSAGE_TYPES = ("identify", "track", "page", "screen", "group", "alias")
MESSAGE_FIELDS = (
    "userId", "anonymousId", "event", "name", "traits", "properties", "context", "integrations",
    "timestamp", "originalTimestamp", "receivedAt", "sentAt", "messageId",
)


@PROFILE
@given(
    st.fixed_dictionaries(
        {"type": st.one_of(st.sampled_from(MESSAGE_TYPES), field_garbage)},
        optional={field: field_garbage for field in MESSAGE_FIELDS},
    ),
    mapping_settings,
)
def test_garbage_in_any_field_raises_nothing_but_mapping_error(
    message: dict[str, Any], config: MappingSettings
) -> None:
    _outcome_of_garbage(message, config)


# Deterministic extremes the generators do not reach.
DEEP = 5000
BASE = {"type": "track", "event": "Deep", "userId": "u_1", "timestamp": "2026-11-28T09:00:00Z"}


def _nested_object(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"k": "leaf"}
    for _ in range(depth - 1):
        value = {"k": value}
    return value


def _nested_array(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def test_a_deeply_nested_object_is_flattened_without_exhausting_the_stack() -> None:
    result = map_message({**BASE, "properties": _nested_object(DEEP)})
    assert isinstance(result, Mapped)
    assert result.event["labels"] == {".".join(["k"] * DEEP): "leaf"}
    assert result.event["numbers"] == {}


def test_an_array_nested_too_deep_to_encode_is_a_mapping_error() -> None:
    with pytest.raises(MappingError) as caught:
        map_message({**BASE, "properties": {"deep": _nested_array(100_000)}})
    assert (caught.value.code, caught.value.field) == ("invalid_type", "properties")


@pytest.mark.parametrize(
    ("value", "label"),
    [(math.nan, "NaN"), (math.inf, "Infinity"), (-math.inf, "-Infinity"), (2**1024, str(2**1024))],
    ids=["nan", "infinity", "minus-infinity", "int-beyond-double"],
)
def test_values_that_are_no_finite_double_become_labels(value: float, label: str) -> None:
    result = map_message({**BASE, "properties": {"x": value, "ok": 1.5}})
    assert isinstance(result, Mapped)
    assert result.event["labels"] == {"x": label}
    assert result.event["numbers"] == {"ok": 1.5}
    assert_valid_event(result.event)
