"""Event validation: the OpenAPI schema in contracts/, plus what a schema cannot say.

Pure: values in, violations or normalized values out. No aiohttp imports.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from importlib import import_module
from importlib.resources import files
from typing import Any

import yaml
from jsonschema import Draft202012Validator, ValidationError

from .errors import InvalidJson
from .schema_messages import as_json, json_message, missing_property
from .settings import Limits

SPEC_FILE = "pointillist-openapi.yaml"


def _optional(module: str) -> Any:
    """An optional accelerator (Any, so type checks pass with or without it), or None."""
    try:
        return import_module(module)
    except ImportError:
        return None


# Optional and much faster; the json module still decides everything orjson cannot read.
_orjson = _optional("orjson")

# ISO-8601 and the loose form of Pointillist's own example ("2015-9-24 7:6:23-0700").
_EVENT_TIME = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})[Tt ](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:[.,](\d{1,9}))?)?"
    r"\s*(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)$",
    re.ASCII,  # ASCII digits only: int() would also read "٢٠٢٦" or fullwidth digits
)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_NUMERIC_STRING = re.compile(r"^\s*-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$", re.ASCII)
# orjson reads an integer beyond 64 bits as a float: a body with a run of 19 digits goes to json.
# (Found by mapping every digit to "0" and everything else to " ": five times faster than re.)
_DIGITS_AS_ZERO = bytes(48 if 48 <= byte <= 57 else 32 for byte in range(256))
_LONG_DIGIT_RUN = b"0" * 19
# dump_json starts the text it could only write with the json module with this (JSON whitespace):
# load_json then reads it with the json module too.
_JSON_ONLY = " "


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

    @property
    def event_time_iso(self) -> str:
        return format_time(self.event_time)


def format_time(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    # By hand, not strftime: "%Y" does not zero-pad years before 1000 on glibc (and this is
    # three times faster).
    return (f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:"
            f"{utc.second:02d}.{utc.microsecond // 1000:03d}Z")


def parse_event_time(value: str) -> datetime | None:
    """A date-time with a zone, or None. Sub-microsecond digits are cut, never rounded."""
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


def parse_json(body: bytes) -> Any:
    """Strict JSON: UTF-8 only, no NaN/Infinity, bounded nesting."""
    if _orjson is not None and _LONG_DIGIT_RUN not in body.translate(_DIGITS_AS_ZERO):
        try:  # what orjson reads, the json module reads the same (it is stricter, never laxer)
            return _orjson.loads(body)
        except _orjson.JSONDecodeError:
            pass  # the json module below says what is wrong, in its words
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidJson(f"body is not valid UTF-8 (byte {exc.start})") from None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise InvalidJson(f"body is not valid JSON: {exc.msg} at {where}") from None
    except (ValueError, RecursionError) as exc:
        raise InvalidJson(f"body is not valid JSON: {exc}") from None
    if _SURROGATE_ESCAPE.search(text):  # a lone \ud800 cannot be stored as UTF-8
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            char = ord(exc.object[exc.start])
            raise InvalidJson(
                f"body holds a lone surrogate escape \\u{char:04x}, which is not a character "
                "(escape an astral character as a surrogate pair)"
            ) from None
    return value


def dump_json(value: Any) -> str:
    """Compact JSON text (non-ASCII kept as is) that `load_json` and json.loads read back equal.

    For values that passed validation: their floats are finite (orjson writes NaN as null)."""
    if _orjson is not None:
        try:
            text: str = _orjson.dumps(value).decode("utf-8")
            return text
        except TypeError:  # orjson refuses integers beyond 64 bits and lone surrogates
            pass
    return _JSON_ONLY + json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def load_json(text: str) -> Any:
    """Read what `dump_json` wrote: with orjson when it wrote it, else with the json module."""
    if _orjson is not None and not text.startswith(_JSON_ONLY):
        return _orjson.loads(text)
    return json.loads(text)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number; send a finite number")


@cache
def event_schema() -> dict[str, Any]:
    spec_text = files("mockserver").joinpath("contracts", SPEC_FILE).read_text(encoding="utf-8")
    spec = yaml.safe_load(spec_text)
    schema: dict[str, Any] = spec["components"]["schemas"]["Event"]
    return schema


@cache
def _schema_validator() -> Draft202012Validator:
    return Draft202012Validator(event_schema())


@cache
def _fast_is_valid() -> Callable[[Any], bool] | None:
    """A compiled validator for the same schema, when jsonschema-rs is installed: about 150 times
    faster than jsonschema's. It only ever answers "valid"; an event it finds invalid takes the
    jsonschema path, so the violations (paths, messages) stay jsonschema's, word for word."""
    jsonschema_rs = _optional("jsonschema_rs")
    if jsonschema_rs is None:  # optional: without it every event takes the jsonschema path
        return None
    validator = jsonschema_rs.Draft202012Validator(event_schema())

    def is_valid(event: Any) -> bool:
        try:
            return bool(validator.is_valid(event))
        except (ValueError, TypeError, OverflowError):  # it cannot convert a value: ask jsonschema
            return False

    return is_valid


class EventValidator:
    """Checks one event against the contract and the configured limits."""

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._schema = _schema_validator()
        self._fast = _fast_is_valid()

    def check(self, event: Any, prefix: str = "$") -> tuple[list[Violation], Normalized | None]:
        fast_valid = self._fast is not None and self._fast(event)
        if not fast_valid and not self._schema.is_valid(event):
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
