"""Coverage of a tracking plan by a set of messages (pure): did we send everything we planned?

- The planned items are the plan's rules (every version of every track event, page and screen,
  and the identify and group rules; not the common rule): an item is *seen* when a message
  meets that rule, as checking.py picks it (name matched exactly, version by
  context.protocols.event_version, else the oldest). A message whose event is not in the plan
  covers nothing (it is an unplanned event, checking's business).
- Each item's planned properties (traits for identify and group) are the names its schema
  lists under `properties` (or `traits`), nested paths included: `properties.address.city` for
  an object's property, `properties.products[].price` for the property of an array's items.
  A property is seen when a message that meets the rule has the key at that path (any value,
  null included: it was sent). Name patterns (patternProperties) are not counted.
- Totals: `events seen/planned` and `properties seen/planned`, where the properties are those of
  every planned item (a never-seen event's properties are never seen either); a total with
  nothing planned is 100 %.

Observations (what one message covers: its item and the planned paths it has) are small and
mergeable (Tally), so a gateway can store them per write key and pytest-xdist workers can add
theirs up; report() turns a tally and the plan into rows and totals.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from .checking import event_name, event_version
from .model import CALL_TYPES, PAYLOAD, Plan, Rule

ItemId = tuple[str, str | None, int]  # (call type, event/page/screen name or None, version)
ARRAY: Final = "[]"
MAX_PATHS: Final = 10_000  # planned paths per rule kept for coverage (a plan nests ≤ 64 deep)


@dataclass(frozen=True)
class Target:
    """One planned item and its planned property paths (sorted)."""

    item: ItemId
    paths: tuple[str, ...]


def targets(plan: Plan) -> list[Target]:
    """The plan's items, in a stable order (_order). O(rules x planned paths)."""
    found = [Target(_item(rule), tuple(sorted(planned_paths(rule))))
             for versions in plan.rules.values() for rule in versions]
    return sorted(found, key=lambda t: _order(t.item))


def _item(rule: Rule) -> ItemId:
    return (str(rule.type), rule.key, rule.version)


def planned_paths(rule: Rule) -> set[str]:
    """Every property path the rule lists, nested ones included (schemas: see module doc)."""
    section = PAYLOAD[str(rule.type)]
    return {joined(section, steps) for steps in planned_steps(rule)}


def joined(section: str, steps: Iterable[str]) -> str:
    return section + "".join(step if step == ARRAY else f".{step}" for step in steps)


def planned_steps(rule: Rule) -> set[tuple[str, ...]]:
    """The planned paths as steps (a name with a dot in it stays one step)."""
    section = PAYLOAD[str(rule.type)]
    out: set[tuple[str, ...]] = set()
    stack: list[tuple[tuple[str, ...], Any]] = [
        ((), part) for part in _section_parts(rule.schema, section)]
    while stack and len(out) < MAX_PATHS:  # each schema node once: O(size of the schema)
        prefix, schema = stack.pop()
        for part in _parts(schema):
            props = part.get("properties")
            if isinstance(props, dict):
                for name, sub in props.items():
                    path = (*prefix, str(name))
                    out.add(path)
                    stack.append((path, sub))
            items = part.get("items")
            if isinstance(items, dict) and prefix:
                stack.append(((*prefix, ARRAY), items))
    return out


def _parts(schema: Any) -> list[dict[str, Any]]:
    """A schema and its allOf parts (what it requires all at once)."""
    if not isinstance(schema, dict):
        return []
    return [schema, *[s for s in schema.get("allOf", []) if isinstance(s, dict)]]


def _section_parts(schema: dict[str, Any], section: str) -> list[Any]:
    out = []
    for part in _parts(schema):
        props = part.get("properties")
        if isinstance(props, dict) and isinstance(props.get(section), dict):
            out.append(props[section])
    return out


@dataclass
class Tally:
    """How many messages met each item, and how many of them had each planned path."""

    messages: Counter[ItemId] = field(default_factory=Counter)
    paths: dict[ItemId, Counter[str]] = field(default_factory=dict)

    def add(self, item: ItemId, paths: Iterable[str], times: int = 1) -> None:
        self.messages[item] += times
        counts = self.paths.setdefault(item, Counter())
        for path in paths:
            counts[path] += times

    def merge(self, other: Tally) -> None:
        for item, count in other.messages.items():
            self.messages[item] += count
        for item, counts in other.paths.items():
            self.paths.setdefault(item, Counter()).update(counts)

    def as_data(self) -> list[dict[str, Any]]:
        """JSON-ready (for pytest-xdist's workeroutput): [{item, messages, paths}]."""
        return [{"item": list(item), "messages": count,
                 "paths": dict(sorted(self.paths.get(item, Counter()).items()))}
                for item, count in sorted(self.messages.items(), key=lambda i: _order(i[0]))]

    @classmethod
    def from_data(cls, data: Iterable[Mapping[str, Any]]) -> Tally:
        tally = cls()
        for row in data:
            kind, key, version = row["item"]
            item: ItemId = (str(kind), None if key is None else str(key), int(version))
            tally.messages[item] += int(row["messages"])
            tally.paths.setdefault(item, Counter()).update(
                {str(p): int(n) for p, n in row["paths"].items()})
        return tally


def _order(item: ItemId) -> tuple[int, str, int]:
    """track, identify, group, page, screen (model.CALL_TYPES); by name, then version."""
    return (CALL_TYPES.index(item[0]) if item[0] in CALL_TYPES else len(CALL_TYPES),
            item[1] or "", item[2])


class Observer:
    """What each message covers, with the plan's paths worked out once (per plan)."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self._trees: dict[ItemId, dict[str, Any]] = {}

    def observe(self, message: Mapping[str, Any]) -> tuple[ItemId, list[str]] | None:
        """The item the message meets and the planned paths it has (None: it meets no rule).
        O(planned paths of its rule x items of the arrays on them)."""
        call_type = message.get("type")
        if not isinstance(call_type, str) or call_type not in PAYLOAD:
            return None
        rule = self.plan.rule_for(call_type, event_name(message), event_version(message))
        if rule is None:
            return None
        item = _item(rule)
        tree = self._trees.get(item)
        if tree is None:
            tree = self._trees[item] = _tree(planned_steps(rule))
        section = PAYLOAD[call_type]
        found: set[str] = set()
        _walk(message.get(section), tree, section, found)
        return item, sorted(found)


def _tree(paths: Iterable[tuple[str, ...]]) -> dict[str, Any]:
    """(a, b), (c, [], d) → {"a": {"b": {}}, "c": {"[]": {"d": {}}}}."""
    root: dict[str, Any] = {}
    for steps in paths:
        node = root
        for step in steps:
            node = node.setdefault(step, {})
    return root


def _walk(value: Any, tree: dict[str, Any], prefix: str, found: set[str]) -> None:
    """The planned paths `value` has: only the plan's tree is followed, so the cost is that
    tree's size times the items of the arrays on it, whatever else the message holds."""
    stack: list[tuple[Any, dict[str, Any], str]] = [(value, tree, prefix)]
    while stack:
        current, node, at = stack.pop()
        if isinstance(current, list):  # node is the tree below an array's "[]"
            stack.extend((one, node, at) for one in current if isinstance(one, dict))
            continue
        if not isinstance(current, dict):
            continue
        for name, below in node.items():
            if name == ARRAY or name not in current:
                continue
            path = f"{at}.{name}"
            found.add(path)
            inner = current[name]
            if isinstance(inner, dict) and below:
                stack.append((inner, below, path))
            elif isinstance(inner, list) and ARRAY in below:
                stack.append((inner, below[ARRAY], path + ARRAY))


@dataclass(frozen=True)
class Row:
    """One planned item: how many messages met it, its planned paths and those never seen."""

    item: ItemId
    messages: int
    planned: tuple[str, ...]
    missing: tuple[str, ...]

    @property
    def label(self) -> str:
        """`track "Order Completed" v1`, `identify v1`."""
        return _label(self.as_dict())

    def as_dict(self) -> dict[str, Any]:
        kind, key, version = self.item
        return {"type": kind, "event": key, "version": version, "messages": self.messages,
                "seen": self.messages > 0, "properties": len(self.planned),
                "propertiesSeen": len(self.planned) - len(self.missing),
                "missing": list(self.missing)}


@dataclass(frozen=True)
class Coverage:
    plan: str
    rows: tuple[Row, ...]

    @property
    def events(self) -> tuple[int, int]:
        return sum(1 for r in self.rows if r.messages), len(self.rows)

    @property
    def properties(self) -> tuple[int, int]:
        planned = sum(len(r.planned) for r in self.rows)
        return planned - sum(len(r.missing) for r in self.rows), planned

    def never_seen(self) -> list[Row]:
        return [r for r in self.rows if not r.messages]

    def as_dict(self) -> dict[str, Any]:
        (events, planned), (props, listed) = self.events, self.properties
        return {"plan": self.plan, "events": [r.as_dict() for r in self.rows],
                "totals": {"events": {"seen": events, "planned": planned,
                                      "percent": percent(events, planned)},
                           "properties": {"seen": props, "planned": listed,
                                          "percent": percent(props, listed)}}}


def percent(part: int, whole: int) -> float:
    """Rounded down to one decimal (99.95 % is not shown as 100 %); 100 when nothing."""
    return 100.0 if whole == 0 else (part * 1000 // whole) / 10


def report(plan: Plan, tally: Tally, planned: list[Target] | None = None) -> Coverage:
    """Rows in targets() order. O(planned items x their paths)."""
    rows = []
    for target in planned if planned is not None else targets(plan):
        count = tally.messages.get(target.item, 0)
        seen = tally.paths.get(target.item, Counter())
        missing = tuple(p for p in target.paths if not seen.get(p))
        rows.append(Row(target.item, count, target.paths, missing))
    return Coverage(plan.name, tuple(rows))


def tally_messages(messages: Iterable[Mapping[str, Any]], plan: Plan) -> Tally:
    observer = Observer(plan)
    tally = Tally()
    for message in messages:  # O(messages x planned paths of each one's rule)
        seen = observer.observe(message)
        if seen is not None:
            tally.add(*seen)
    return tally


def below(coverage: Coverage, minimum: tuple[float, float | None]) -> list[str]:
    """What falls short of --min-coverage EVENTS[,PROPERTIES] (percent), one line each."""
    short = []
    (events, planned), (props, listed) = coverage.events, coverage.properties
    if percent(events, planned) < minimum[0]:
        names = ", ".join(r.label for r in coverage.never_seen())
        short.append(f"event coverage {percent(events, planned):g} % ({events}/{planned}) is "
                     f"below {minimum[0]:g} %; never seen: {names}")
    if minimum[1] is not None and percent(props, listed) < minimum[1]:
        short.append(f"property coverage {percent(props, listed):g} % ({props}/{listed}) is "
                     f"below {minimum[1]:g} %")
    return short


def parse_minimum(text: str) -> tuple[float, float | None]:
    """`80` or `80,60` → (80.0, None) / (80.0, 60.0); ValueError with a sentence otherwise."""
    parts = text.split(",")
    if len(parts) > 2 or not all(p.strip() for p in parts):
        raise ValueError(f"expected EVENTS[,PROPERTIES] in percent (e.g. 90 or 90,75), "
                         f"not {text!r}")
    values = []
    for part in parts:
        try:
            value = float(part)
        except ValueError:
            raise ValueError(f"{part.strip()!r} is not a percentage (0 to 100)") from None
        if not 0 <= value <= 100:
            raise ValueError(f"{part.strip()} is not a percentage (0 to 100)")
        values.append(value)
    return values[0], (values[1] if len(values) == 2 else None)


def table(coverage: Coverage) -> Iterator[str]:
    """The rows as text: item, messages, properties seen/planned, never-seen properties."""
    return served_table(coverage.as_dict())


def served_table(data: Mapping[str, Any]) -> Iterator[str]:
    """table() from the JSON form (Coverage.as_dict, GET /_gateway/coverage's answer)."""
    headers = ["planned", "messages", "properties", "never seen"]
    cells = [[_label(row), str(row["messages"]), f"{row['propertiesSeen']}/{row['properties']}",
              ", ".join(row["missing"]) if row["messages"] else "(event never seen)"]
             for row in data["events"]]
    widths = [max(len(row[i]) for row in [headers, *cells]) for i in range(3)]
    for row in [headers, *cells]:
        yield "  ".join([row[0].ljust(widths[0]), row[1].rjust(widths[1]),
                         row[2].rjust(widths[2]), row[3]]).rstrip()
    events, props = data["totals"]["events"], data["totals"]["properties"]
    yield (f"events {events['seen']}/{events['planned']} ({events['percent']:g} %), "
           f"properties {props['seen']}/{props['planned']} ({props['percent']:g} %)")


def _label(row: Mapping[str, Any]) -> str:
    name = row["type"] if row["event"] is None else (
        f"{row['type']} {json.dumps(row['event'], ensure_ascii=False)}")
    return f"{name} v{row['version']}"
