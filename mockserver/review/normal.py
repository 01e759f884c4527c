"""A tenant's snapshot: the normal form of its events, made to be kept in a repository and
diffed in a pull request.

- events in event-time order, one per line; events of the same time in the order of their
  lines' text: the order a tenant stored them in depends on how concurrently they were
  delivered (the connector sends several at once), this order does not;
- each line is the event as the mock received it (`eventType`, `eventTime`, `actors`, `labels`,
  `numbers`, `location`, `eventSource`), as compact JSON with keys sorted at every depth;
- volatile values are not in it: the mock's generated ids (`evt_…`), idempotency keys (the
  connector sends the Segment messageId, which a gateway may generate) and receive times;
- event times are kept (mapping them is part of the contract) unless `event_times=False`, which
  leaves `eventTime` out too (traffic sent "now").

Pure: values in, values out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

__all__ = ["Snapshot", "normalise", "parse_snapshot"]

Event = dict[str, Any]


def _line(event: Mapping[str, Any]) -> str:
    return json.dumps(event, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                      allow_nan=False)


def normalise(listed: Iterable[Mapping[str, Any]], event_times: bool = True) -> Snapshot:
    """The snapshot of events as GET /_mock/events lists them (`{"id", "receivedAt",
    "eventTime", "idempotencyKey", "event"}`: eventTime normalised to UTC), or of bare events.
    O(events log events)."""
    keyed: list[tuple[str, str, Event]] = []
    for item in listed:
        stored = "event" in item and "id" in item
        event = dict(item["event"] if stored else item)
        time = str(item["eventTime"] if stored else event.get("eventTime", ""))
        if not event_times:
            event.pop("eventTime", None)
        keyed.append((time, _line(event), event))
    keyed.sort(key=lambda entry: entry[:2])
    return Snapshot(event for _, _, event in keyed)


class Snapshot:
    """The events of a snapshot, in order. Equal to another Snapshot, or to its text, when the
    events are equal; `text` is the file form; `repr` is one event per line (what syrupy's
    default serializer stores)."""

    __slots__ = ("events",)

    def __init__(self, events: Iterable[Mapping[str, Any]]) -> None:
        # A round trip through the line form: equal snapshots hold equal values.
        self.events: list[Event] = [json.loads(_line(event)) for event in events]

    @property
    def lines(self) -> list[str]:
        return [_line(event) for event in self.events]

    @property
    def text(self) -> str:
        """The file form: one event per line, each ended by a newline."""
        return "".join(line + "\n" for line in self.lines)

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Snapshot):
            return self.lines == other.lines
        if isinstance(other, str):
            try:
                return self.lines == parse_snapshot(other).lines
            except ValueError:
                return False
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Snapshot({len(self.events)} events)\n" + self.text


def parse_snapshot(text: str) -> Snapshot:
    """A snapshot from its text: its file form, or its repr (also as syrupy stores it, each
    line indented). Raises ValueError, with the line number, for anything else."""
    events: list[Event] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or (line.startswith("Snapshot(") and line.endswith(" events)")):
            continue
        try:
            value = json.loads(line)
        except ValueError:
            raise ValueError(f"line {number} is not one JSON event: {line[:80]!r}") from None
        if not isinstance(value, dict) or not isinstance(value.get("eventType"), str):
            raise ValueError(f"line {number} is not an event (an object with an eventType)")
        events.append(value)
    return Snapshot(events)
