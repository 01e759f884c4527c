"""The shapes of the two official server clients: how each one writes a message on the wire.

``analytics-python`` 2.4.0 writes every field (``None`` included) in its own key order, offset
timestamps and a microsecond ``sentAt``; ``@segment/analytics-node`` 3.1.0 leaves absent fields
out, writes ``Z`` timestamps and numbers as JSON.stringify does, and adds ``_metadata``. Both get
the fields Segment's servers add: ``originalTimestamp`` (the client's timestamp), ``sentAt``,
``receivedAt`` and the skew-corrected ``timestamp = receivedAt - (sentAt - originalTimestamp)``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, Literal

from .spec import Message
from .timeline import MS, iso_offset, iso_offset_ms, iso_z

Style = Literal["python", "node"]

PYTHON_LIBRARY = {"name": "analytics-python", "version": "2.4.0"}
NODE_LIBRARY = {"name": "@segment/analytics-node", "version": "3.1.0"}
NODE_METADATA = {"nodeVersion": "v20.20.2", "jsRuntime": "node"}

# Key order of each message type as the clients put it on the wire (None/absent fields
# included for Python, omitted for Node). Server-added fields follow.
PYTHON_ORDER: dict[str, tuple[str, ...]] = {
    "identify": ("integrations", "anonymousId", "timestamp", "context", "type", "userId",
                 "traits", "messageId"),
    "track": ("integrations", "anonymousId", "properties", "timestamp", "context", "userId",
              "type", "event", "messageId"),
    "page": ("integrations", "anonymousId", "properties", "timestamp", "category", "context",
             "userId", "type", "name", "messageId"),
    "group": ("integrations", "anonymousId", "timestamp", "groupId", "context", "userId",
              "traits", "type", "messageId"),
    "alias": ("integrations", "previousId", "timestamp", "context", "userId", "type",
              "messageId"),
}
PYTHON_ORDER["screen"] = PYTHON_ORDER["page"]
NODE_ORDER: dict[str, tuple[str, ...]] = {
    "identify": ("timestamp", "integrations", "type", "userId", "anonymousId", "traits",
                 "context", "messageId", "_metadata"),
    "track": ("timestamp", "integrations", "event", "type", "properties", "context", "userId",
              "anonymousId", "messageId", "_metadata"),
    "page": ("timestamp", "integrations", "category", "name", "type", "properties", "context",
             "userId", "anonymousId", "messageId", "_metadata"),
    "group": ("timestamp", "integrations", "type", "groupId", "traits", "context", "userId",
              "anonymousId", "messageId", "_metadata"),
    "alias": ("timestamp", "integrations", "type", "userId", "previousId", "context",
              "messageId", "_metadata"),
}
NODE_ORDER["screen"] = NODE_ORDER["page"]


def library(style: Style) -> dict[str, str]:
    """``context.library`` as the client sets it."""
    return dict(PYTHON_LIBRARY if style == "python" else NODE_LIBRARY)


def flush_delay(style: Style, rng: random.Random) -> int:
    """How long the client holds a message before posting it, in microseconds."""
    if style == "python":
        return rng.randint(20_000, 600_000)  # flush within upload_interval
    return rng.randint(5, 10_000) * MS  # flushAt 15 / flushInterval 10 s


def message_id(style: Style, original: int, uuid: Callable[[], str]) -> str:
    """A messageId as the client makes one; ``original`` is the client's time of the call."""
    if style == "python":
        return uuid()
    return f"node-next-{original // MS}-{uuid()}"


def js_numbers(value: Any) -> Any:
    """What JSON.stringify does to numbers: an integral float is written without ``.0``."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: js_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [js_numbers(item) for item in value]
    return value


def on_the_wire(style: Style, kind: str, values: dict[str, Any], *, original: int, sent: int,
                received: int, corrected: int) -> Message:
    """The message as Segment's servers hand it on: the client's fields in the client's order,
    then the server-added times (all arguments after ``values`` are epoch microseconds)."""
    if style == "python":
        values = {**values, "timestamp": iso_offset_ms(corrected)}
        message = {key: values.get(key) for key in PYTHON_ORDER[kind]}
        message["originalTimestamp"] = iso_offset_ms(original)
        message["sentAt"] = iso_offset(sent)
    else:
        values = {**values, "timestamp": iso_z(corrected), "_metadata": dict(NODE_METADATA)}
        message = {key: js_numbers(values[key]) for key in NODE_ORDER[kind]
                   if values.get(key) is not None}
        message["originalTimestamp"] = iso_z(original)
        message["sentAt"] = iso_z(sent)
    message["receivedAt"] = iso_z(received)
    return message
