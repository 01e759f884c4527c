"""Event validation: the OpenAPI schema in contracts/, plus what a schema cannot say.

Pure: values in, violations or normalized values out. No aiohttp imports.
"""

from __future__ import annotations

import copy
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, lru_cache
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator, ValidationError

from mockserver.settings import Limits
from mockserver.times import format_time, in_written_form, parse_event_time
from mockserver.validation.messages import as_json, json_message, missing_property
from mockserver.validation.schemas import component

SPEC_FILE = "pointillist-openapi.yaml"

_NUMERIC_STRING = re.compile(r"^\s*-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$", re.ASCII)


@dataclass(frozen=True)
class Violation:
    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


@dataclass(frozen=True)
class Normalized:
    """What the mock derives from a valid event (the event itself is kept exactly as received)."""

    event_time: datetime
    numbers: dict[str, int | float]
    # The eventTime as sent, when it is already in the form the mock writes (times.py).
    written: str | None = field(default=None, compare=False)

    @property
    def event_time_iso(self) -> str:
        return self.written or format_time(self.event_time)


def event_schema() -> dict[str, Any]:
    return component(SPEC_FILE, "Event")


@cache
def _schema_validator() -> Draft202012Validator:
    return Draft202012Validator(event_schema())


@cache
def _fast_is_valid() -> Callable[[Any], bool]:
    """A compiled validator for the same schema (jsonschema-rs), about 150 times faster than
    jsonschema's. It only ever answers "valid"; an event it finds invalid takes the jsonschema
    path, so the violations (paths, messages) stay jsonschema's, word for word."""
    return _compiled(event_schema())


def _compiled(schema: dict[str, Any]) -> Callable[[Any], bool]:
    validator = jsonschema_rs.Draft202012Validator(schema)

    def is_valid(event: Any) -> bool:
        try:
            return bool(validator.is_valid(event))
        except (ValueError, TypeError, OverflowError):  # it cannot convert a value: ask jsonschema
            return False

    return is_valid


_FLOAT_MAX = sys.float_info.max


@lru_cache(maxsize=8)
def _strict_is_valid(name_max: int, label_max: int) -> Callable[[Any], bool]:
    """The schema with the limits' checks folded in, compiled once per setting (jsonschema-rs):
    an event it finds valid passes every check of `EventValidator.check` but the event time and
    the numbers, which check still reads (it needs their values). Stricter, never laxer: what
    it refuses takes the full path, whose violations are the ones answered (an identifier with
    no ASCII character that is not a space, say, is checked for blankness there)."""
    schema = copy.deepcopy(event_schema())
    props = schema["properties"]
    name = {"maxLength": name_max}
    props["eventSource"]["maxLength"] = props["eventType"]["maxLength"] = name_max
    actors = props["actors"]
    actors["propertyNames"] = actors["additionalProperties"]["propertyNames"] = name
    identifier = actors["additionalProperties"]["additionalProperties"]
    identifier.update(maxLength=name_max, pattern="[!-~]")  # not blank, by any definition
    for block in ("labels", "location"):
        props[block]["propertyNames"] = name
        props[block]["additionalProperties"].update(  # finite: infinity is over any maximum
            maxLength=label_max, maximum=_FLOAT_MAX, minimum=-_FLOAT_MAX)
    props["numbers"]["propertyNames"] = name
    return _compiled(schema)


class EventValidator:
    """Checks one event against the contract and the configured limits."""

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._schema = _schema_validator()
        self._fast = _fast_is_valid()
        self._strict = _strict_is_valid(limits.max_name_length, limits.max_label_length)

    def check(self, event: Any, prefix: str = "$") -> tuple[list[Violation], Normalized | None]:
        """([], what the mock derives) for a valid event, else (its violations, None). A valid
        event costs one compiled check, its time and its numbers: O(size) in C, O(numbers)."""
        if self._strict(event):
            sent = event["eventTime"]
            moment = parse_event_time(sent)
            numbers: dict[str, int | float] = {}
            for key, value in event.get("numbers", {}).items():  # O(numbers)
                number = _as_number(value)
                if number is None:
                    break
                numbers[key] = number
            else:
                if moment is not None:
                    return [], Normalized(moment, numbers, sent if in_written_form(sent) else None)
        return self.check_fully(event, prefix)

    def check_fully(self, event: Any, prefix: str = "$"
                    ) -> tuple[list[Violation], Normalized | None]:
        """`check`, every rule checked in Python: what an event the compiled check refuses
        gets, and the words of its violations."""
        if not self._fast(event) and not self._schema.is_valid(event):
            errors = sorted(self._schema.iter_errors(event), key=lambda e: e.json_path)
            found = [Violation(_path(prefix, e), _short(json_message(e))) for e in errors]
            return found, None
        violations = []
        limits = self._limits
        name_max = limits.max_name_length
        for key in ("eventSource", "eventType"):
            value = event.get(key)
            if isinstance(value, str) and len(value) > name_max:
                violations.append(_too_long(f"{prefix}.{key}", name_max))
        moment = parse_event_time(event["eventTime"])
        if moment is None:
            violations.append(Violation(
                f"{prefix}.eventTime",
                f"{as_json(event['eventTime'])} is not a date-time with a zone; "
                "send ISO-8601 such as 2026-11-28T10:00:00.000Z",
            ))
        for actor_type, identifiers in event["actors"].items():
            path = f"{prefix}.actors.{actor_type}"
            if len(actor_type) > name_max:
                violations.append(_too_long(f"{prefix}.actors", name_max, "actor type"))
            for name, value in identifiers.items():
                if len(name) > name_max:
                    violations.append(_too_long(path, name_max, "identifier name"))
                if len(value) > name_max:
                    violations.append(_too_long(f"{path}.{name}", name_max))
                elif not value.strip():
                    violations.append(Violation(f"{path}.{name}", "identifier must not be blank"))
        for block in ("labels", "location"):
            for key, value in event.get(block, {}).items():
                if len(key) > name_max:
                    violations.append(_too_long(f"{prefix}.{block}", name_max, "key"))
                if isinstance(value, str) and len(value) > limits.max_label_length:
                    violations.append(_too_long(f"{prefix}.{block}.{key}", limits.max_label_length))
                elif isinstance(value, float) and not math.isfinite(value):
                    violations.append(Violation(f"{prefix}.{block}.{key}", "must be finite"))
        numbers: dict[str, int | float] = {}
        for key, value in event.get("numbers", {}).items():
            if len(key) > name_max:
                violations.append(_too_long(f"{prefix}.numbers", name_max, "key"))
            number = _as_number(value)
            if number is None:
                violations.append(Violation(
                    f"{prefix}.numbers.{key}",
                    f"{as_json(value)} is not a finite number; send a number such as 42.5",
                ))
            else:
                numbers[key] = number
        if violations or moment is None:
            return violations, None
        return [], Normalized(moment, numbers)


def _short(message: str, limit: int = 300) -> str:
    """Schema messages quote the offending value, which may be huge: cut from the middle so
    the verdict at the end ('is not of type "object"') stays."""
    if len(message) <= limit:
        return message
    half = (limit - 1) // 2
    return message[:half] + "…" + message[-half:]


def _path(prefix: str, error: ValidationError) -> str:
    path = prefix + error.json_path[1:]
    if error.validator == "required":  # point at the missing field itself
        missing = missing_property(error)
        path = f"{path}.{missing}"
    return path


def _too_long(path: str, limit: int, what: str = "value") -> Violation:
    return Violation(path, f"{what} is longer than {limit} characters (rejected, never truncated)")


def _as_number(value: Any) -> int | float | None:
    if isinstance(value, str):
        if not _NUMERIC_STRING.match(value):
            return None
        text = value.strip()
        try:
            value = int(text) if text.lstrip("-").isdigit() else float(text)
        except ValueError:  # more digits than Python converts
            return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        if not math.isfinite(float(value)):
            return None
    except OverflowError:
        return None
    return value
