"""Segment message helpers: call types, identifiers, eventTime. Pure functions of values.

Reading and writing timestamps lives in connector/times.py; `event_time` adds what mapping
needs on top: the error that says which field was unusable.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, Final

from .errors import MappingError
from .times import first_timestamp, to_event_time

IDENTIFY: Final = "identify"
TRACK: Final = "track"
PAGE: Final = "page"
SCREEN: Final = "screen"
GROUP: Final = "group"
ALIAS: Final = "alias"
MESSAGE_TYPES: Final[frozenset[str]] = frozenset({IDENTIFY, TRACK, PAGE, SCREEN, GROUP, ALIAS})


def is_object(value: object) -> bool:
    """A JSON object (a dict, or any other Mapping)."""
    return type(value) is dict or isinstance(value, Mapping)


def message_type(message: Mapping[str, Any]) -> str | None:
    """The call type when it is one of the six Segment calls, else None."""
    value = message.get("type")
    return value if type(value) is str and value in MESSAGE_TYPES else None


def legacy_type(message: Mapping[str, Any]) -> str | None:
    """The call type from `action`, the older name of `type` that Segment still accepts (and
    that examples in its own docs use), when the message has no `type`."""
    value = message.get("action")
    if type(value) is str and value.lower() in MESSAGE_TYPES:
        return value.lower()
    return None


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


def event_time(message: Mapping[str, Any]) -> str:
    """Pointillist eventTime of a message: the first non-null of times.TIMESTAMP_FIELDS,
    written UTC. The chosen value must parse: there is no fallback to the next field."""
    found = first_timestamp(message)
    if found is None:
        raise MappingError(
            "missing_field", "timestamp", "none of timestamp, originalTimestamp, receivedAt is set"
        )
    field, value = found
    text = to_event_time(value)
    if text is None:
        reason = f"{field} is not an ISO-8601 date-time: {_show(value)}"
        raise MappingError("invalid_timestamp", field, reason)
    return text


def _show(value: object) -> str:
    """A short, safe description of a value for an error message (never a deep repr)."""
    if type(value) is str:
        return json.dumps(value if len(value) <= 60 else value[:60] + "...", ensure_ascii=False)
    return f"a {type(value).__name__}"
