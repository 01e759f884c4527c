"""Segment HTTP Tracking API messages: checking, batch merge, enrichment, drop rules, write keys.

Pure: bytes and JSON values in, values out. The clock (`now`) and the messageId factory
(`new_id`) are arguments; there is no I/O and no aiohttp here.

What Segment does, and so what this module does (../shared/reference, sections 0-3 and 5):

- Answers 400 `{"code", "message"}` only for bodies it cannot read (request_body.py: not JSON,
  not gzip when it says so) and for size limits: 32 KB per message and per single call, 500 KB
  per batch.
- Accepts (200) everything else, then drops what it cannot use: a message without a userId or
  anonymousId (`no_user_anon_id`), a track without an event, and every message of a batch over
  2,500 messages. `prepare` returns those as `Dropped` with the reason.
- Merges a batch's top-level `context` and `integrations` into every message, the message's own
  values winning; fills `messageId` when missing; adds `receivedAt`; keeps the client's
  `timestamp` as `originalTimestamp` and corrects the clock skew:
  `timestamp = receivedAt - (sentAt - originalTimestamp)`.

Sizes are those of the inflated JSON (a gzip body is measured once inflated); a message is
measured as compact JSON, which is never more than what the official clients measure, so the
gateway never refuses a message an official client let through.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from ..errors import InvalidRequest, WriteKeyRefused
from ..messages import ALIAS, GROUP, MESSAGE_TYPES, TRACK, legacy_type
from ..times import format_millis, parse_timestamp

KB: Final = 1024
BATCH_ROUTES: Final[frozenset[str]] = frozenset({"batch", "import"})
ROUTES: Final[frozenset[str]] = BATCH_ROUTES | MESSAGE_TYPES

DropReason = Literal[
    "not_an_object",  # a batch item that is not a JSON object
    "invalid_type",  # a batch item whose type is missing or not one of the six calls
    "message_id_too_long",  # over 100 characters
    "no_user_anon_id",  # neither userId nor anonymousId (Segment's own error name)
    "missing_event",  # a track without a non-empty event name
    "missing_group_id",  # a group without groupId
    "missing_previous_id",  # an alias without previousId
    "too_many_messages",  # every message of a batch over the 2,500-message limit
    "blocked_by_tracking_plan",  # --tracking-plan with blocking on (Protocols' Block Event)
]


@dataclass(frozen=True, slots=True)
class TrackingLimits:
    max_message_bytes: int = 32 * KB  # one message, in a batch or alone
    max_single_request_bytes: int = 32 * KB  # POST /v1/identify, /v1/track ...
    max_batch_request_bytes: int = 500 * KB  # POST /v1/batch, /v1/import
    max_batch_messages: int = 2500  # more: 200, and every message of the batch is dropped
    max_message_id_length: int = 100

    def request_bytes(self, route: str) -> int:
        batch = route in BATCH_ROUTES
        return self.max_batch_request_bytes if batch else self.max_single_request_bytes


DEFAULT_LIMITS: Final = TrackingLimits()


@dataclass(frozen=True, slots=True)
class TrackingRequest:
    """A readable request: its messages (raw batch items) and the batch-level fields."""

    route_type: str | None  # the call type a single-call route implies; None for a batch
    items: list[Any]
    context: Mapping[str, Any] | None = None
    integrations: Mapping[str, Any] | None = None
    sent_at: Any = None
    too_many: bool = False


@dataclass(frozen=True, slots=True)
class Accepted:
    """An enriched message for the outbox."""

    message_id: str
    message: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Dropped:
    """A message answered 200 and then dropped, as Segment would, with the reason.

    message: the enriched message (the raw item when it is not an object). message_id: None when
    there is none to dedup on (not an object, or an id over the length limit).
    """

    reason: DropReason
    message_id: str | None
    message: Any
    detail: str


Entry = Accepted | Dropped


def write_key_candidates(authorization: str | None, payload: Any) -> list[str]:
    """The write keys a request offers, in order: the Basic username (`base64(key:)`; the colon
    is optional, as Segment still tolerates), a Bearer token, the body's `writeKey`."""
    keys: list[str] = []
    scheme, _, credentials = (authorization or "").strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "basic" and credentials:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            decoded = ""
        key = decoded.split(":", 1)[0]
        if key:
            keys.append(key)
    elif scheme.lower() == "bearer" and credentials:
        keys.append(credentials)
    if isinstance(payload, dict):
        body_key = payload.get("writeKey")
        if isinstance(body_key, str) and body_key:
            keys.append(body_key)
    return keys


def authorize(candidates: list[str], allowed: frozenset[str]) -> str:
    """The write key the request is counted under ("" for none). Any key (or none) passes when
    no keys are configured; otherwise one must be known."""
    if not allowed:
        return candidates[0] if candidates else ""
    if not candidates:
        raise WriteKeyRefused(
            "missing write key: send Authorization: Basic base64('<writeKey>:'), "
            "a Bearer token, or writeKey in the body"
        )
    for key in candidates:
        if key in allowed:
            return key
    raise WriteKeyRefused("unknown write key: this gateway accepts only its configured keys")


def parse_request(route: str, payload: Any, limits: TrackingLimits) -> TrackingRequest:
    """Check a decoded body against the route: 400 for a body that is not an object, a batch
    that is not an array, or a message over the size limit."""
    if route not in ROUTES:
        raise ValueError(f"unknown route {route!r}")
    if not isinstance(payload, dict):
        raise InvalidRequest("Invalid JSON: the body must be a JSON object")
    if route not in BATCH_ROUTES:
        return TrackingRequest(route_type=route, items=[payload])
    items = payload.get("batch")
    if not isinstance(items, list):
        raise InvalidRequest('Invalid JSON: a batch body is {"batch": [message, ...]}')
    for index, item in enumerate(items):
        size = message_size(item)
        if size > limits.max_message_bytes:
            raise InvalidRequest(
                f"message {index} of the batch is {size} bytes; "
                f"the limit is {limits.max_message_bytes} bytes per message"
            )
    context = payload.get("context")
    integrations = payload.get("integrations")
    return TrackingRequest(
        route_type=None,
        items=items,
        context=context if isinstance(context, dict) else None,
        integrations=integrations if isinstance(integrations, dict) else None,
        sent_at=payload.get("sentAt"),
        too_many=len(items) > limits.max_batch_messages,
    )


def message_size(item: Any) -> int:
    """Bytes of the item as compact UTF-8 JSON."""
    encoded = json.dumps(item, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return len(encoded.encode("utf-8"))


# -- enrichment and drop rules -----------------------------------------------------------------


def prepare(
    request: TrackingRequest,
    now: datetime,
    new_id: Callable[[], str],
    limits: TrackingLimits = DEFAULT_LIMITS,
) -> list[Entry]:
    """Every message of the request, enriched, in request order: Accepted or Dropped."""
    entries: list[Entry] = []
    for item in request.items:
        if not isinstance(item, dict):
            kind = type(item).__name__ if item is not None else "null"
            entries.append(Dropped("not_an_object", None, item, f"a batch item is a {kind}"))
            continue
        message = enrich(item, request, now, new_id)
        message_id: str = message["messageId"]
        reason, detail = drop_reason(message, limits)
        if reason is None and request.too_many:
            reason = "too_many_messages"
            detail = (f"the batch has {len(request.items)} messages; "
                      f"the limit is {limits.max_batch_messages}")
        if reason is None:
            entries.append(Accepted(message_id, message))
        else:
            usable_id = None if reason == "message_id_too_long" else message_id
            entries.append(Dropped(reason, usable_id, message, detail))
    return entries


def enrich(
    item: Mapping[str, Any], request: TrackingRequest, now: datetime, new_id: Callable[[], str]
) -> dict[str, Any]:
    """A copy of the item as Segment's servers pass it on (see the module docstring)."""
    message = dict(item)
    message.pop("writeKey", None)  # a credential: never stored
    if request.route_type is not None:
        message["type"] = request.route_type
    elif "type" not in message:
        # `action`, the older name of `type`: taken on every route, as /v1/<call> always did.
        legacy = legacy_type(message)
        if legacy is not None:
            message["type"] = legacy
    for name, shared in (("context", request.context), ("integrations", request.integrations)):
        if shared is not None:
            own = message.get(name)
            if own is None:
                message[name] = merge(shared, {})
            elif isinstance(own, dict):
                message[name] = merge(shared, own)
    message["messageId"] = _message_id(message.get("messageId"), new_id)
    received = _to_millis(now)
    message["receivedAt"] = format_millis(received)
    sent_at = message.get("sentAt")
    if sent_at is None and request.sent_at is not None:
        sent_at = message["sentAt"] = request.sent_at
    client_time = message.get("timestamp")
    if client_time is None:
        client_time = message.get("originalTimestamp")
    if client_time is None:
        message["timestamp"] = message["receivedAt"]
        return message
    message["originalTimestamp"] = client_time
    corrected = corrected_timestamp(received, sent_at, client_time)
    message["timestamp"] = client_time if corrected is None else corrected
    return message


def merge(shared: Mapping[str, Any], own: Mapping[str, Any]) -> dict[str, Any]:
    """`shared` (batch level) merged into `own` (the message): objects merge key by key, at
    every depth; anything else in `own` wins."""
    merged = dict(shared)
    for key, value in own.items():
        base = merged.get(key)
        if isinstance(base, dict) and isinstance(value, dict):
            merged[key] = merge(base, value)
        else:
            merged[key] = value
    return merged


def _message_id(value: Any, new_id: Callable[[], str]) -> str:
    if isinstance(value, str) and value.strip():
        return value
    if type(value) is int:
        return str(value)
    return new_id()


def corrected_timestamp(received_at: datetime, sent_at: Any, original: Any) -> str | None:
    """`receivedAt - (sentAt - originalTimestamp)`, each truncated to the millisecond, written
    `YYYY-MM-DDTHH:MM:SS.mmmZ`; None when sentAt or the original time is missing or unreadable."""
    sent = parse_timestamp(sent_at)
    when = parse_timestamp(original)
    if sent is None or when is None:
        return None
    try:
        return format_millis(_to_millis(received_at) - (sent - when))
    except OverflowError:
        return None


def drop_reason(
    message: Mapping[str, Any], limits: TrackingLimits
) -> tuple[DropReason | None, str]:
    """Why Segment would drop this (enriched) message, or (None, "")."""
    message_id = message.get("messageId")
    if isinstance(message_id, str) and len(message_id) > limits.max_message_id_length:
        return "message_id_too_long", (
            f"messageId is {len(message_id)} characters; the limit is "
            f"{limits.max_message_id_length}"
        )
    kind = message.get("type")
    if not isinstance(kind, str) or kind not in MESSAGE_TYPES:
        return "invalid_type", "type must be identify, track, page, screen, group or alias"
    if kind == ALIAS and not _is_id(message.get("previousId")):
        return "missing_previous_id", "an alias needs a previousId"
    if not (_is_id(message.get("userId")) or _is_id(message.get("anonymousId"))):
        return "no_user_anon_id", "a message needs a userId or an anonymousId"
    if kind == TRACK:
        event = message.get("event")
        if not isinstance(event, str) or not event.strip():
            return "missing_event", "a track needs an event name"
    if kind == GROUP and not _is_id(message.get("groupId")):
        return "missing_group_id", "a group needs a groupId"
    return None, ""


def _is_id(value: Any) -> bool:
    """An identifier: a non-blank string or a finite number (not a bool)."""
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value)


def _to_millis(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)

