"""Segment message → Pointillist event. Pure: values in, values out; no I/O, clock or randomness.

The rules are contracts/mapping/README.md (normative) and the hand-written golden cases in
contracts/mapping/ are the arbiter. In short:

1. integrations.Pointillist false, or integrations.All false without Pointillist true → skipped
   (disabled_in_integrations).
2. page/screen (unless settings.map_page_screen), group and alias → skipped
   (unsupported_message_type).
3. Invalid messages raise MappingError(code, field); nothing else is ever raised for JSON input.
4. Otherwise: eventType ("identify", the track's event, "Viewed <name> Page|Screen"), eventTime,
   one actor with userId/anonymousId, and labels/numbers from context.location, .campaign,
   .device, .traits (prefixed) and then traits/properties (no prefix); later sources overwrite.

The message's type is checked before the two skips: a message whose type is missing or unknown
has no type to report as skipped, so it is always an invalid_type error.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, cast

from .config import DEFAULT_MAPPING_SETTINGS, MappingSettings
from .errors import MappingError
from .messages import (
    IDENTIFY,
    PAGE,
    SCREEN,
    TRACK,
    event_time,
    identifier,
    is_object,
    legacy_type,
    message_id,
    message_type,
)

SkipReason = Literal["unsupported_message_type", "disabled_in_integrations"]
Scalar = str | int | float

EVENT_SOURCE: Final = "Segment"
DESTINATION: Final = "Pointillist"
# (context block, key prefix), in overwrite order; the message's traits/properties come last.
CONTEXT_BLOCKS: Final[tuple[tuple[str, str], ...]] = (
    ("location", "location."),
    ("campaign", "campaign."),
    ("device", "device."),
    ("traits", "traits."),
)

_ARRAY_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_encode_array = _ARRAY_ENCODER.encode
# Beyond this an int is no finite double: Pointillist could not store it as a number.
_DOUBLE_LIMIT: Final = 2**1024
_NON_FINITE_LABELS: Final = {math.inf: "Infinity", -math.inf: "-Infinity"}
_isfinite: Final = math.isfinite


@dataclass(frozen=True, slots=True)
class Mapped:
    """A message that became a Pointillist event.

    event: the event body, exactly as sent. message_id: the Segment messageId (the delivery's
    Idempotency-Key), None when the message had none. actor_key: "userId:<id>" when the message
    has a userId, else "anonymousId:<id>"; events with the same key must be delivered in order.
    labels_left_out: label keys whose value was longer than `max_label_length` (settings) and
    was therefore left out of the event.
    """

    event: dict[str, Any]
    message_id: str | None
    actor_key: str
    type: str
    labels_left_out: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Skipped:
    """A message the destination does not take (not an error: Segment would not send it)."""

    type: str
    reason: SkipReason
    message_id: str | None = None


def map_message(
    message: Mapping[str, Any], settings: MappingSettings = DEFAULT_MAPPING_SETTINGS
) -> Mapped | Skipped:
    """Map one Segment message (one batch item). Raises MappingError for an invalid message."""
    if not is_object(message):
        raise MappingError("invalid_type", "message", "a Segment message must be a JSON object")
    kind = message_type(message)
    if kind is None and "type" not in message:
        kind = legacy_type(message)
    if kind is None:
        raise MappingError(
            "invalid_type", "type", "type must be identify, track, page, screen, group or alias"
        )
    get = message.get

    if _disabled(get("integrations")):
        return Skipped(kind, "disabled_in_integrations", message_id(message))
    if kind != IDENTIFY and kind != TRACK and not (
        settings.map_page_screen and kind in (PAGE, SCREEN)
    ):
        return Skipped(kind, "unsupported_message_type", message_id(message))

    user_id = identifier(message, "userId")
    anonymous_id = identifier(message, "anonymousId")
    if user_id is None and anonymous_id is None:
        raise MappingError(
            "missing_identifier", "userId|anonymousId", "a message needs a userId or anonymousId"
        )
    if kind == TRACK:
        event_type = get("event")
        if type(event_type) is not str or not event_type:
            raise MappingError("missing_field", "event", "a track needs a non-empty event name")
        source = "properties"
    elif kind == IDENTIFY:
        event_type = "identify"
        source = "traits"
    else:
        event_type = _viewed(get("name"), kind)
        source = "properties"

    context = get("context")
    if context is not None and not is_object(context):
        raise MappingError("invalid_type", "context", "context must be an object")
    payload = get(source)
    if payload is not None and not is_object(payload):
        raise MappingError("invalid_type", source, f"{source} must be an object")
    when = event_time(message)

    flat: dict[str, Scalar] = {}
    if context:
        for block, prefix in CONTEXT_BLOCKS:
            value = context.get(block)
            if value and is_object(value):
                _flatten(flat, prefix, value, "context." + block)
    if payload:
        _flatten(flat, "", payload, source)
    labels: dict[str, str] = {}
    numbers: dict[str, int | float] = {}
    limit = settings.max_label_length
    left_out: list[str] = []
    for key, value in flat.items():
        if type(value) is str:
            if limit is not None and len(value) > limit:
                left_out.append(key)  # see MappingSettings.max_label_length: left out, not cut
                continue
            labels[key] = value
        else:
            numbers[key] = value  # type: ignore[assignment]

    ids: dict[str, str] = {}
    if user_id is not None:
        ids["userId"] = user_id
        actor_key = "userId:" + user_id
    if anonymous_id is not None:
        ids["anonymousId"] = anonymous_id
        if user_id is None:
            actor_key = "anonymousId:" + anonymous_id
    event = {
        "eventSource": EVENT_SOURCE,
        "eventType": event_type,
        "eventTime": when,
        "actors": {settings.actor_type: ids},
        "labels": labels,
        "numbers": numbers,
    }
    return Mapped(event, message_id(message), actor_key, kind, tuple(left_out))


def _disabled(integrations: object) -> bool:
    """integrations.Pointillist false, or All false and Pointillist not enabled (true, or an
    options object as Segment allows)."""
    if not integrations or not is_object(integrations):
        return False
    flags = cast(Mapping[str, Any], integrations)
    own = flags.get(DESTINATION)
    enabled = own is True or is_object(own)
    return own is False or (flags.get("All") is False and not enabled)


def _viewed(name: object, kind: str) -> str:
    noun = "Page" if kind == PAGE else "Screen"
    if name is None or name == "":
        return f"Viewed {noun}"
    if type(name) is not str:
        raise MappingError("invalid_type", "name", f"a {kind} name must be a string")
    return f"Viewed {name} {noun}"


def _flatten(out: dict[str, Scalar], prefix: str, obj: Mapping[Any, Any], field: str) -> None:
    """Write obj's leaves into out under dotted keys, in order; later writes overwrite.

    Iterative (an explicit stack), so no nesting depth can exhaust the interpreter's stack.
    """
    stack: list[tuple[str, Iterator[tuple[Any, Any]]]] = [(prefix, iter(obj.items()))]
    while stack:
        base, items = stack[-1]
        for key, value in items:
            name = base + (key if type(key) is str else _key_text(key, field))
            kind = type(value)
            if kind is str:
                out[name] = value
            elif kind is int:
                out[name] = value if -_DOUBLE_LIMIT < value < _DOUBLE_LIMIT else _big(value, field)
            elif kind is float:
                out[name] = value if _isfinite(value) else _non_finite(value)
            elif kind is bool:
                out[name] = "true" if value else "false"
            elif value is None:
                continue
            elif kind is dict:
                if value:
                    stack.append((name + ".", iter(value.items())))
                    break
            elif kind is list:
                out[name] = _array(value, field, name)
            else:
                nested = _other(out, name, value, field)
                if nested is not None:
                    stack.append((name + ".", iter(nested.items())))
                    break
        else:
            stack.pop()


def _other(
    out: dict[str, Scalar], name: str, value: object, field: str
) -> Mapping[Any, Any] | None:
    """Values of less common Python types: Mappings nest, tuples are arrays, int/float/str
    subclasses are their base value. Anything that is not JSON-like is invalid_type."""
    if isinstance(value, Mapping):
        return value if value else None
    if isinstance(value, tuple):
        out[name] = _array(value, field, name)
    elif isinstance(value, int):  # an int subclass such as IntEnum (bool is handled before)
        whole = int(value)
        out[name] = whole if -_DOUBLE_LIMIT < whole < _DOUBLE_LIMIT else _big(whole, field)
    elif isinstance(value, float):
        real = float(value)
        out[name] = real if _isfinite(real) else _non_finite(real)
    elif isinstance(value, str):
        out[name] = str(value)
    else:
        raise MappingError(
            "invalid_type", field,
            f"{json.dumps(name)} holds a {type(value).__name__}, not a JSON value"
        )
    return None


def _array(value: list[Any] | tuple[Any, ...], field: str, name: str) -> str:
    try:
        return _encode_array(value)
    except (TypeError, ValueError, RecursionError):
        raise MappingError(
            "invalid_type", field, f"{json.dumps(name)} holds an array that is not JSON-encodable"
        ) from None


def _big(value: int, field: str) -> str:
    """An int too large for a double is written as its decimal string, a label."""
    try:
        return str(value)
    except ValueError:  # more digits than Python writes
        raise MappingError("invalid_type", field, "an integer has too many digits") from None


def _non_finite(value: float) -> str:
    """NaN and the infinities are no numbers for Pointillist: labels spelled as in JavaScript."""
    return _NON_FINITE_LABELS.get(value, "NaN")


def _key_text(key: object, field: str) -> str:
    if isinstance(key, str):  # a str subclass
        return str(key)
    raise MappingError(
        "invalid_type", field, f"an object key must be a string, not a {type(key).__name__}"
    )
