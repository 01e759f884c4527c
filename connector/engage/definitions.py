"""Engage definitions: audiences and computed traits as values, loaded from YAML/JSON.

Pure values; `load_definitions` reads its one file. The format and the rules are in
connector/engage/simulator.py's docstring. A document is checked in two passes, and either
pass reports every problem it finds (each saying where) in one DefinitionError:

1. its shape, against definitions.schema.json (validation.py);
2. what a schema cannot say: keys are snake_cased (keys.py), no two definitions share a key or
   an id, and a union/intersection names audiences of the file without containing itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, Final, Literal, cast

import yaml

from ..errors import DefinitionError
from .conditions import Condition, Operator
from .keys import DEFAULT_SPACE_ID, snake_case, stable_id
from .validation import location, schema_problems, show

Emit = Literal["identify", "track"]
Aggregate = Literal["count", "sum"]
Combine = Literal["union", "intersection"]

COMBINES: Final[tuple[Combine, ...]] = ("union", "intersection")
DAY_MS: Final = 86_400_000


# -- the values ----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class EventRule:
    """Track events named `event`, matching every condition, within the last `within_days`."""

    event: str
    within_days: float
    where: tuple[Condition, ...] = ()

    @property
    def window_ms(self) -> int:
        return round(self.within_days * DAY_MS)

    def matches(self, properties: Mapping[str, Any]) -> bool:
        return all(condition.matches(properties) for condition in self.where)


@dataclass(frozen=True, slots=True)
class Audience:
    """Members: profiles with at least `min_count` events of `rule`; or, with `combine`, the
    union/intersection of the audiences whose keys are `of`."""

    name: str
    key: str
    id: str
    emit: Emit
    rule: EventRule | None = None
    min_count: int = 1
    combine: Combine | None = None
    of: tuple[str, ...] = ()

    computation_class: ClassVar[str] = "audience"


@dataclass(frozen=True, slots=True)
class ComputedTrait:
    """The count of `rule`'s events, or the sum of their numeric `property`."""

    name: str
    key: str
    id: str
    emit: Emit
    rule: EventRule
    aggregate: Aggregate = "count"
    property: str | None = None

    computation_class: ClassVar[str] = "trait"


Definition = Audience | ComputedTrait


@dataclass(frozen=True, slots=True)
class Definitions:
    """Audiences (in evaluation order: a combination after its parts) and computed traits."""

    audiences: tuple[Audience, ...] = ()
    traits: tuple[ComputedTrait, ...] = ()
    space_id: str = DEFAULT_SPACE_ID

    @property
    def all(self) -> tuple[Definition, ...]:
        return (*self.audiences, *self.traits)

    def get(self, key: str) -> Definition:
        for definition in self.all:
            if definition.key == key:
                return definition
        raise KeyError(key)

    @property
    def rules(self) -> tuple[EventRule, ...]:
        found = [a.rule for a in self.audiences if a.rule is not None]
        return (*found, *(t.rule for t in self.traits))


def load_definitions(path: str | Path) -> Definitions:
    """Read a YAML file (or JSON: `.json` files are read as JSON) and `parse_definitions` it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DefinitionError(f"cannot read the definitions file {path}: {exc}") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        kind = "JSON" if path.suffix.lower() == ".json" else "YAML"
        raise DefinitionError(f"{path} is not valid {kind}: {exc}") from None
    return parse_definitions(data)


def parse_definitions(data: Any) -> Definitions:
    """Check a loaded definitions document; every problem is in one DefinitionError."""
    problems = schema_problems(data)
    if problems:
        raise DefinitionError.of(problems)
    builder = _Builder(emit=data.get("emit", "identify"))
    audiences = [builder.audience(i, item) for i, item in enumerate(data.get("audiences") or [])]
    traits = [builder.trait(i, item) for i, item in enumerate(data.get("computed_traits") or [])]
    ordered = _resolve_combinations(audiences, builder.problems)
    if builder.problems:
        raise DefinitionError.of(builder.problems)
    return Definitions(tuple(ordered), tuple(trait for _, trait in traits),
                       data.get("space_id", DEFAULT_SPACE_ID))


class _Builder:
    """Turns schema-valid items into values, noting what only code can check: keys, and that no
    two definitions share a key or an id."""

    def __init__(self, emit: Emit) -> None:
        self.emit = emit
        self.problems: list[str] = []
        self._key_of: dict[str, str] = {}  # key → where it was first defined
        self._id_of: dict[str, str] = {}

    def audience(self, index: int, item: dict[str, Any]) -> tuple[str, Audience]:
        here, name, key, computation_id, emit = self._head("audiences", index, "aud", item)
        combine = next((c for c in COMBINES if c in item), None)
        if combine is not None:
            parts = tuple(item[combine])
            return here, Audience(name, key, computation_id, emit, combine=combine, of=parts)
        rule = _rule(item)
        return here, Audience(name, key, computation_id, emit, rule=rule,
                              min_count=item.get("min_count", 1))

    def trait(self, index: int, item: dict[str, Any]) -> tuple[str, ComputedTrait]:
        here, name, key, computation_id, emit = self._head("computed_traits", index, "tra",
                                                           item)
        aggregate = cast(Aggregate, item.get("aggregate", "count"))
        return here, ComputedTrait(name, key, computation_id, emit, _rule(item), aggregate,
                                   item.get("property"))

    def _head(self, section: str, index: int, prefix: str,
              item: dict[str, Any]) -> tuple[str, str, str, str, Emit]:
        """Where the item is, its name, key, id and emit; notes key and id problems."""
        name: str = item["name"]
        here = location(section, index, name)
        if "key" in item:
            key: str = item["key"]
            if snake_case(key) != key:
                self.problems.append(
                    f"{here}: key must be snake_cased (lowercase letters and digits joined by "
                    f"single _), not {show(key)}")
        else:
            key = snake_case(name)
            if not key:
                self.problems.append(f"{here}: the name has no letters or digits to make a key "
                                     "from; give a key")
        computation_id: str = item.get("id", f"{prefix}_{stable_id(prefix, key)}")
        key_taken = bool(key) and not self._unique(
            here, "key", key, self._key_of, "; give one of them another name or an explicit key")
        if "id" in item or not key_taken:  # a derived id repeats a repeated key: said once
            self._unique(here, "id", computation_id, self._id_of, "")
        return here, name, key, computation_id, item.get("emit", self.emit)

    def _unique(self, here: str, what: str, value: str, seen: dict[str, str],
                advice: str) -> bool:
        """Whether `value` is new; notes a problem when it is not."""
        if value in seen:
            self.problems.append(f"{here}: {what} {show(value)} is also the {what} of "
                                 f"{seen[value]}{advice}")
            return False
        seen[value] = here
        return True


def _rule(item: Mapping[str, Any]) -> EventRule:
    conditions: list[Condition] = []
    for prop, test in item.get("where", {}).items():
        if isinstance(test, list):  # a list of values: any of them
            conditions.append(Condition(prop, "in", tuple(test)))
        elif not isinstance(test, dict):
            conditions.append(Condition(prop, "eq", test))
        else:
            for op, value in test.items():
                value = tuple(value) if op == "in" else value
                conditions.append(Condition(prop, cast(Operator, op), value))
    return EventRule(item["event"], float(item["within_days"]), tuple(conditions))


def _resolve_combinations(located: list[tuple[str, Audience]],
                          problems: list[str]) -> list[Audience]:
    """Combinations name their parts by name or key; resolve to keys and order every audience
    after its parts (file order otherwise). An unknown part, an audience containing itself and
    a cycle are problems."""
    by_ref: dict[str, Audience] = {}
    for _, audience in located:
        by_ref.setdefault(audience.key, audience)
    for _, audience in located:
        by_ref.setdefault(audience.name, audience)
    resolved: dict[str, Audience] = {}
    for here, audience in located:
        if audience.combine is None:
            resolved.setdefault(audience.key, audience)
            continue
        keys = []
        for ref in audience.of:
            part = by_ref.get(ref)
            if part is None:
                problems.append(f"{here}: {audience.combine} names {show(ref)}, which is not "
                                "an audience of this file")
            elif part.key == audience.key:
                problems.append(f"{here}: {audience.combine} names {show(ref)}, the audience "
                                "itself; an audience cannot contain itself")
            else:
                keys.append(part.key)
        resolved.setdefault(audience.key, replace(audience, of=tuple(dict.fromkeys(keys))))
    ordered: list[Audience] = []
    state: dict[str, str] = {}

    def visit(audience: Audience, path: tuple[str, ...]) -> None:
        if state.get(audience.key) == "done":
            return
        if state.get(audience.key) == "visiting":
            cycle = " → ".join((*path, audience.name))
            problems.append(f"audiences form a cycle: {cycle}")
            return
        state[audience.key] = "visiting"
        for key in audience.of:
            visit(resolved[key], (*path, audience.name))
        state[audience.key] = "done"
        ordered.append(audience)

    for audience in resolved.values():
        visit(audience, ())
    return ordered


def with_emit(definitions: Definitions, emit: Emit) -> Definitions:
    """The same definitions, every one emitted in the `emit` form."""
    return Definitions(
        tuple(replace(audience, emit=emit) for audience in definitions.audiences),
        tuple(replace(trait, emit=emit) for trait in definitions.traits),
        definitions.space_id,
    )
