"""The Segment messages a sync sends: one per changed value, shaped as Engage writes them.

An identify `{traits: {key: value}}`, or the track form (Audience Entered/Exited, Trait
Computed), with `context.personas`, `integrations {"All": false, "Pointillist": true}`, the sync
time in Engage's nanosecond form, and a `personas_` messageId that is a digest of what the
message says, so the same run gives the same ids and a retried sync is deduplicated downstream.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from ..times import format_nanos
from .definitions import Audience, Definition
from .keys import stable_id
from .profiles import Value

Message = dict[str, Any]

DESTINATION: Final = "Pointillist"
LIBRARY: Final = {"name": "unknown", "version": "unknown"}
AUDIENCE_ENTERED: Final = "Audience Entered"
AUDIENCE_EXITED: Final = "Audience Exited"
TRAIT_COMPUTED: Final = "Trait Computed"


@dataclass(frozen=True, slots=True)
class Change:
    """One emitted value: the definition key, the profile and the old and new values."""

    key: str
    identity: tuple[str, str]
    previous: Value | None  # None: nothing emitted before
    value: Value


def sync_message(definition: Definition, change: Change, now: datetime,
                 space_id: str) -> Message:
    """The Segment message Engage sends for one change of `definition` at `now`."""
    key, value = change.key, change.value
    personas = {
        "computation_class": definition.computation_class,
        "computation_id": definition.id,
        "computation_key": key,
        "namespace": space_id,
        "space_id": space_id,
    }
    stamp = format_nanos(now)
    id_name, id_value = change.identity
    message: Message = {"type": definition.emit}
    if definition.emit == "identify":
        message["traits"] = {key: value}
    elif isinstance(definition, Audience):
        message["event"] = AUDIENCE_ENTERED if value else AUDIENCE_EXITED
        message["properties"] = {"audience_key": key, key: value}
    else:
        message["event"] = TRAIT_COMPUTED
        message["properties"] = {"trait_key": key, key: value}
    message[id_name] = id_value
    value_text = json.dumps(value)
    digest = stable_id(definition.id, id_name, id_value, stamp, value_text, definition.emit)
    message.update({
        "context": {"library": dict(LIBRARY), "personas": personas},
        "integrations": {"All": False, DESTINATION: True},
        "messageId": f"personas_{digest}",
        "timestamp": stamp,
        "originalTimestamp": stamp,
        "sentAt": None,
    })
    return message
