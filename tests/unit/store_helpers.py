"""Building store inputs in unit tests: events, and the (raw, normalized) items `Store` takes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mockserver.settings import Limits
from mockserver.validation.events import EventValidator, Normalized

RECEIVED = "2026-11-28T12:00:00.000Z"
VALIDATOR = EventValidator(Limits())


def ev(event_type: str, event_time: str, labels: dict[str, Any] | None = None,
       numbers: dict[str, Any] | None = None, **ids: str) -> dict[str, Any]:
    event: dict[str, Any] = {"eventSource": "Segment", "eventType": event_type,
                             "eventTime": event_time, "actors": {"Customer": ids}}
    if labels is not None:
        event["labels"] = labels
    if numbers is not None:
        event["numbers"] = numbers
    return event


def items(*events: dict[str, Any]) -> list[tuple[Mapping[str, Any], Normalized]]:
    out: list[tuple[Mapping[str, Any], Normalized]] = []
    for event in events:
        violations, normalized = VALIDATOR.check(event)
        assert violations == [] and normalized is not None
        out.append((event, normalized))
    return out
