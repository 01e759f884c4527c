"""Replaying recorded Segment messages through the official Python SDK (segment-analytics-python).

The demo and the benchmarks drive the gateway exactly as an application would: each message
becomes the SDK call that produces it (identify, track, page, screen, group, alias), with its
ids, traits or properties, context, integrations, messageId and timestamp. The SDK adds its own
sentAt and library, batches, and posts to {host}/v1/batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from ..times import parse_timestamp


class SegmentClient(Protocol):
    """The calls of segment.analytics.Client this module makes."""

    def identify(self, **fields: Any) -> Any: ...
    def track(self, **fields: Any) -> Any: ...
    def page(self, **fields: Any) -> Any: ...
    def screen(self, **fields: Any) -> Any: ...
    def group(self, **fields: Any) -> Any: ...
    def alias(self, **fields: Any) -> Any: ...


# The SDK's keyword for each message field, per call (what the call takes beyond the common ones).
_COMMON = {"context": "context", "integrations": "integrations", "messageId": "message_id"}
_FIELDS: dict[str, dict[str, str]] = {
    "identify": {"userId": "user_id", "anonymousId": "anonymous_id", "traits": "traits"},
    "track": {"userId": "user_id", "anonymousId": "anonymous_id", "event": "event",
              "properties": "properties"},
    "page": {"userId": "user_id", "anonymousId": "anonymous_id", "name": "name",
             "category": "category", "properties": "properties"},
    "screen": {"userId": "user_id", "anonymousId": "anonymous_id", "name": "name",
               "category": "category", "properties": "properties"},
    "group": {"userId": "user_id", "anonymousId": "anonymous_id", "groupId": "group_id",
              "traits": "traits"},
    "alias": {"previousId": "previous_id", "userId": "user_id"},
}


def call_for(message: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The SDK method and keyword arguments that send `message`."""
    kind = message.get("type")
    if kind not in _FIELDS:
        raise ValueError(f"no SDK call sends a message of type {kind!r}")
    fields = {**_FIELDS[kind], **_COMMON}
    kwargs = {keyword: message[name] for name, keyword in fields.items()
              if message.get(name) is not None}
    # The recorded (skew-corrected) time: the SDK stamps sentAt now, so the gateway's correction
    # moves it only by the milliseconds the request takes.
    moment = parse_timestamp(message.get("timestamp") or message.get("originalTimestamp"))
    if moment is not None:
        kwargs["timestamp"] = moment
    return str(kind), kwargs


def replay(messages: Iterable[Mapping[str, Any]], client: SegmentClient) -> int:
    """Enqueue every message with the SDK; return how many. The caller flushes."""
    count = 0
    for message in messages:
        kind, kwargs = call_for(message)
        getattr(client, kind)(**kwargs)
        count += 1
    return count
