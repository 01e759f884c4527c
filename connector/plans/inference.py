"""A tracking plan drafted from traffic (pure): `segment-connector plan infer`.

From Segment messages (JSON objects, as captures and fixtures/ hold them), the short YAML form
that loading.py reads (and `validate --plan`, `gateway --tracking-plan` use):

- each track event (by its exact name), page and screen (by name) with the properties its
  messages had, each with its JSON type (`integer` and `number` together are `number`; other
  mixes a union such as `[string, "null"]`, `null` allowed where a null was seen); `required`
  when the property was in every message of that event; `enum` only when asked (enums=True)
  and the property's non-null values are strings or integers with at most MAX_ENUM distinct
  ones, each seen more than once on average (a one-off id is no enum);
- identify and group traits alike (one rule each); messages of other types are counted apart;
- with common=True, a common rule: the `context` fields present in every message, required,
  with their types;
- only top-level properties (traits) are listed: an object or array is planned as `object` /
  `array`, its inside left for the user to write.

The text is deterministic (names sorted, counts as comments: `# seen 412 times`), so a draft
kept in version control changes only where the traffic did. Cost: O(messages x their keys),
the distinct values kept per property bounded by MAX_ENUM + 1.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from .checking import json_type

MAX_ENUM: Final = 5
SECTIONS: Final = (("events", "track", "properties"), ("pages", "page", "properties"),
                   ("screens", "screen", "properties"))
_PLAIN_KEY: Final = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*(?:[ .\-/][A-Za-z0-9_$]+)*$")
_YAML_WORDS: Final = frozenset({"null", "true", "false", "yes", "no", "on", "off", "y", "n"})


@dataclass
class _Field:
    count: int = 0
    types: set[str] = field(default_factory=set)
    values: set[Any] = field(default_factory=set)  # at most MAX_ENUM + 1 distinct
    enumerable: bool = True

    def see(self, value: Any) -> None:
        self.count += 1
        kind = json_type(value)
        self.types.add(kind)
        if kind == "null":
            return
        if kind not in ("string", "integer"):
            self.enumerable = False
        elif self.enumerable and len(self.values) <= MAX_ENUM:
            self.values.add(value)


@dataclass
class _Shape:
    """One event's (page's, identify's ...) messages: how many, and each field's findings."""

    count: int = 0
    fields: dict[str, _Field] = field(default_factory=dict)

    def see(self, payload: Any) -> None:
        self.count += 1
        if isinstance(payload, dict):
            for key, value in payload.items():
                self.fields.setdefault(str(key), _Field()).see(value)


@dataclass
class Inference:
    """What the messages showed, per kind of call; `other`: messages no rule could come from
    (alias, a track without an event name ...)."""

    messages: int = 0
    shapes: dict[tuple[str, str | None], _Shape] = field(default_factory=dict)
    context: _Shape = field(default_factory=_Shape)
    other: int = 0

    def see(self, message: Mapping[str, Any]) -> None:
        self.messages += 1
        self.context.see(message.get("context"))
        call_type = message.get("type")
        if call_type in ("identify", "group"):
            self.shapes.setdefault((call_type, None), _Shape()).see(message.get("traits"))
            return
        name = message.get("event") if call_type == "track" else message.get("name")
        if call_type in ("track", "page", "screen") and isinstance(name, str) and name:
            self.shapes.setdefault((call_type, name), _Shape()).see(message.get("properties"))
            return
        self.other += 1


def infer(messages: Iterable[Mapping[str, Any]]) -> Inference:
    found = Inference()
    for message in messages:  # O(messages x their keys)
        found.see(message)
    return found


def _types(seen: _Field) -> list[str]:
    kinds = set(seen.types)
    if {"integer", "number"} <= kinds:
        kinds.discard("integer")
    return sorted(kinds)


def _spec(seen: _Field, total: int, enums: bool) -> dict[str, Any]:
    kinds = _types(seen)
    spec: dict[str, Any] = {"type": kinds[0] if len(kinds) == 1 else kinds}
    if seen.count == total:
        spec["required"] = True
    distinct = len(seen.values)
    if (enums and seen.enumerable and 0 < distinct <= MAX_ENUM
            and seen.count - (1 if "null" in kinds else 0) > distinct):
        values: list[Any] = sorted(seen.values, key=lambda v: (json_type(v), v))
        spec["enum"] = values + ([None] if "null" in kinds else [])
    return spec


def render(found: Inference, name: str = "inferred", sources: str = "",
           enums: bool = False, common: bool = False) -> str:
    """The short YAML form, with counts as comments (deterministic)."""
    lines = [
        f"# Drafted by `segment-connector plan infer` from {found.messages} message(s)"
        + (f" ({sources})" if sources else "") + ".",
        "# Types, `required` and enums are what the traffic showed, not what it must show:",
        "# edit, then check traffic with `segment-connector validate FILE --plan THIS_FILE`.",
        f"name: {_key(name)}",
    ]
    for section, call_type, payload in SECTIONS:
        named = sorted((key, shape) for (kind, key), shape in found.shapes.items()
                       if kind == call_type and key is not None)
        if not named:
            continue
        lines.append(f"{section}:")
        for key, shape in named:
            lines.append(f"  {_key(key)}:  # seen {_times(shape.count)}")
            lines += _fields(shape, payload, "    ", enums)
    for call_type in ("identify", "group"):
        traits = found.shapes.get((call_type, None))
        if traits is not None:
            lines.append(f"{call_type}:  # seen {_times(traits.count)}")
            lines += _fields(traits, "traits", "  ", enums)
    if common:
        lines += _common(found)
    if found.other:
        lines.append(f"# {found.other} other message(s) (alias, or no event name) plan nothing")
    return "\n".join(lines) + "\n"


def _fields(shape: _Shape, payload: str, indent: str, enums: bool) -> list[str]:
    if not shape.fields:
        return [f"{indent}{payload}: {{}}"]
    out = [f"{indent}{payload}:"]
    for key in sorted(shape.fields):
        seen = shape.fields[key]
        comment = "" if seen.count == shape.count else f"  # in {seen.count} of {shape.count}"
        out.append(f"{indent}  {_key(key)}: {_flow(_spec(seen, shape.count, enums))}{comment}")
    return out


def _common(found: Inference) -> list[str]:
    always = sorted(key for key, seen in found.context.fields.items()
                    if seen.count == found.messages)
    out = [f"common:  # context fields in every one of the {found.messages} message(s)",
           "  type: object"]
    if not always:
        return [*out, "  properties: {}"]
    out += ["  required: [context]", "  properties:", "    context:", "      type: object",
            f"      required: {_flow_list(always)}", "      properties:"]
    for key in always:
        kinds = _types(found.context.fields[key])
        out.append(f"        {_key(key)}: "
                   f"{_flow({'type': kinds[0] if len(kinds) == 1 else kinds})}")
    return out


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def _key(name: str) -> str:
    plain = _PLAIN_KEY.match(name) and name.lower() not in _YAML_WORDS
    return name if plain else json.dumps(name, ensure_ascii=False)


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return _key(value)
    return json.dumps(value, ensure_ascii=False)


def _flow_list(values: list[Any]) -> str:
    return "[" + ", ".join(_scalar(v) for v in values) + "]"


def _flow(spec: dict[str, Any]) -> str:
    parts = [f"{key}: {_flow_list(value) if isinstance(value, list) else _scalar(value)}"
             for key, value in spec.items()]
    return "{" + ", ".join(parts) + "}"
