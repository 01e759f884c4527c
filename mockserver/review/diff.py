"""The event-level diff of two snapshots (normal.py): per actor, the events added, removed and
changed, with the labels, numbers and other fields that changed. Pure.

Actors are found as the mock stitches them (DESIGN.md, Identity stitching), over both snapshots
at once so that an actor has one name on both sides: identifiers carried by one event are linked,
an actor holds at most one userId per actor type (a link that would join two users is left out,
as the mock records a conflict), and it is named by its userId, else by its first anonymousId.
Within an actor the two sequences of events are aligned (difflib); events in a replaced stretch
are paired as changed when they share eventType and eventTime, then when they share eventType,
in order; the others are removed (from A) or added (in B).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mockserver.review.normal import Event, Snapshot

__all__ = ["Change", "Diff", "EventChange", "EventRef", "diff"]

Node = tuple[str, str, str]  # actor type, identifier name, value
SECTIONS = ("eventType", "eventTime", "eventSource", "actors", "labels", "numbers", "location")


@dataclass(frozen=True)
class EventRef:
    """An event of a snapshot: its position there (1 = first) and what names it."""

    position: int
    event_type: str
    event_time: str | None

    def as_json(self) -> dict[str, Any]:
        return {"position": self.position, "eventType": self.event_type,
                "eventTime": self.event_time}


@dataclass(frozen=True)
class Change:
    """One value that changed: `field` is a section of the event (labels, numbers, actors,
    location, eventTime ...), `key` the key inside it (None for a plain field); a value that
    is absent on one side is None there (no label, number or field of an event is null)."""

    field: str
    key: str | None
    before: Any
    after: Any

    def as_json(self) -> dict[str, Any]:
        return {"field": self.field, "key": self.key, "before": self.before, "after": self.after}


@dataclass(frozen=True)
class EventChange:
    before: EventRef
    after: EventRef
    changes: tuple[Change, ...]

    def as_json(self) -> dict[str, Any]:
        return {"before": self.before.as_json(), "after": self.after.as_json(),
                "changes": [change.as_json() for change in self.changes]}


@dataclass
class ActorDiff:
    actor: str
    added: list[EventRef] = field(default_factory=list)
    removed: list[EventRef] = field(default_factory=list)
    changed: list[EventChange] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"actor": self.actor, "added": [e.as_json() for e in self.added],
                "removed": [e.as_json() for e in self.removed],
                "changed": [c.as_json() for c in self.changed]}


@dataclass
class Diff:
    """What B holds compared with A. `actors`: only those that differ, in order of their first
    event; `events_a`/`events_b`: how many events each side holds."""

    actors: list[ActorDiff]
    events_a: int
    events_b: int

    @property
    def added(self) -> int:
        return sum(len(actor.added) for actor in self.actors)

    @property
    def removed(self) -> int:
        return sum(len(actor.removed) for actor in self.actors)

    @property
    def changed(self) -> int:
        return sum(len(actor.changed) for actor in self.actors)

    @property
    def unchanged(self) -> int:
        return self.events_a - self.removed - self.changed

    @property
    def empty(self) -> bool:
        return not self.actors

    def summary(self) -> dict[str, int]:
        return {"actors": len(self.actors), "added": self.added, "removed": self.removed,
                "changed": self.changed, "unchanged": self.unchanged,
                "eventsA": self.events_a, "eventsB": self.events_b}

    def as_json(self) -> dict[str, Any]:
        return {"same": self.empty, "summary": self.summary(),
                "actors": [actor.as_json() for actor in self.actors]}


def _nodes(event: Mapping[str, Any]) -> list[Node]:
    actors = event.get("actors")
    if not isinstance(actors, Mapping):
        return []
    return [(str(kind), str(name), str(value)) for kind, ids in actors.items()
            if isinstance(ids, Mapping) for name, value in ids.items()]


class _Actors:
    """Union-find over identifiers, at most one userId per set and actor type."""

    def __init__(self) -> None:
        self.parent: dict[Node, Node] = {}
        self.users: dict[Node, dict[str, str]] = {}  # root: actor type -> userId
        self.first: dict[Node, Node] = {}  # root: its first node seen

    def find(self, node: Node) -> Node:
        if node not in self.parent:
            self.parent[node] = node
            self.users[node] = {node[0]: node[2]} if node[1] == "userId" else {}
            self.first[node] = node
        root = node
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[node] != root:  # path compression
            self.parent[node], node = root, self.parent[node]
        return root

    def link(self, nodes: Sequence[Node]) -> None:
        for other in nodes[1:]:
            a, b = self.find(nodes[0]), self.find(other)
            if a == b:
                continue
            users_a, users_b = self.users[a], self.users[b]
            if any(users_a.get(kind, user) != user for kind, user in users_b.items()):
                continue  # two users: a stitch conflict, not one actor
            self.parent[b] = a
            users_a.update(users_b)

    def name(self, event: Mapping[str, Any]) -> str:
        nodes = _nodes(event)
        if not nodes:
            return "(no actor)"
        # An event's own userId names its actor (its anonymousId may be another user's).
        node = next((n for n in nodes if n[1] == "userId"), nodes[0])
        root = self.find(node)
        kind = node[0]
        user = self.users[root].get(kind)
        if user is not None:
            return f"{kind} userId={user}"
        first = self.first[root]
        return f"{first[0]} {first[1]}={first[2]}"


def _ref(position: int, event: Event) -> EventRef:
    time = event.get("eventTime")
    return EventRef(position, str(event.get("eventType")), None if time is None else str(time))


def changes(a: Mapping[str, Any], b: Mapping[str, Any]) -> tuple[Change, ...]:
    """The values that differ between two events, section by section, keys sorted."""
    found: list[Change] = []
    sections = [*SECTIONS, *sorted((set(a) | set(b)) - set(SECTIONS))]
    for section in sections:
        before, after = a.get(section), b.get(section)
        if before == after:
            continue
        if isinstance(before, Mapping | None) and isinstance(after, Mapping | None) and (
                before is not None or after is not None):
            flat_a, flat_b = _flat(before or {}), _flat(after or {})
            for key in sorted(set(flat_a) | set(flat_b)):
                if flat_a.get(key) != flat_b.get(key):
                    found.append(Change(section, key, flat_a.get(key), flat_b.get(key)))
        else:
            found.append(Change(section, None, before, after))
    return tuple(found)


def _flat(values: Mapping[str, Any]) -> dict[str, Any]:
    """labels, numbers and location are flat; actors are one level deeper (type.name)."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            flat.update({f"{key}.{inner}": item for inner, item in value.items()})
        else:
            flat[key] = value
    return flat


def _pair(gone: list[tuple[int, Event]], come: list[tuple[int, Event]],
          actor: ActorDiff) -> None:
    """Events of a replaced stretch: changed pairs first, then removed and added ones."""
    pairs: dict[int, int] = {}
    taken: set[int] = set()
    for same_time in (True, False):
        for i, (_, old) in enumerate(gone):
            if i in pairs:
                continue
            for j, (_, new) in enumerate(come):
                if j in taken or new.get("eventType") != old.get("eventType"):
                    continue
                if same_time and new.get("eventTime") != old.get("eventTime"):
                    continue
                pairs[i] = j
                taken.add(j)
                break
    for i, (position, old) in enumerate(gone):
        if i in pairs:
            new_position, new = come[pairs[i]]
            actor.changed.append(EventChange(_ref(position, old), _ref(new_position, new),
                                             changes(old, new)))
        else:
            actor.removed.append(_ref(position, old))
    actor.added.extend(_ref(p, e) for j, (p, e) in enumerate(come) if j not in taken)


def diff(a: Snapshot, b: Snapshot) -> Diff:
    """What changed from snapshot `a` to snapshot `b`. O(events) plus difflib's alignment of
    each actor's events."""
    actors = _Actors()
    for event in (*a.events, *b.events):
        nodes = _nodes(event)
        if nodes:
            actors.link(nodes)
    sides: dict[str, tuple[list[tuple[int, Event]], list[tuple[int, Event]]]] = {}
    for side, snapshot in enumerate((a, b)):
        for position, event in enumerate(snapshot.events, start=1):
            sides.setdefault(actors.name(event), ([], []))[side].append((position, event))
    found: list[ActorDiff] = []
    for name, (old, new) in sides.items():
        actor = ActorDiff(name)
        lines_a = [json.dumps(e, sort_keys=True) for _, e in old]
        lines_b = [json.dumps(e, sort_keys=True) for _, e in new]
        matcher = difflib.SequenceMatcher(None, lines_a, lines_b, autojunk=False)
        for op, i1, i2, j1, j2 in matcher.get_opcodes():
            if op != "equal":
                _pair(old[i1:i2], new[j1:j2], actor)
        if actor.added or actor.removed or actor.changed:
            actor.added.sort(key=lambda ref: ref.position)
            found.append(actor)
    return Diff(found, len(a), len(b))
