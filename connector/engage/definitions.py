"""Engage definitions: audiences and computed traits, their keys and ids, loaded from YAML/JSON.

Pure values; `load_definitions` reads its one file. The format and the rules are in
connector/engage/simulator.py's docstring; every problem is a DefinitionError that says where it is.
"""

from __future__ import annotations

import hashlib
import json
import math
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, Final, Literal, TypeGuard, cast

import yaml

from ..errors import ConfigError

Emit = Literal["identify", "track"]
Aggregate = Literal["count", "sum"]
Combine = Literal["union", "intersection"]
Operator = Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "exists"]

EMITS: Final[tuple[str, ...]] = ("identify", "track")
AGGREGATES: Final[tuple[str, ...]] = ("count", "sum")
OPERATORS: Final[tuple[str, ...]] = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "exists")
DAY_MS: Final = 86_400_000
_BASE62: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID_LENGTH: Final = 27  # as Engage's KSUID-style ids: aud_2djnfxHHnYGVQfOAEBroQ9Ti87N


class DefinitionError(ConfigError):
    """The definitions file cannot be read, or says something invalid (with where)."""

    code = "invalid_definitions"


# -- keys and ids --------------------------------------------------------------------------------


def snake_case(name: str) -> str:
    """The audience/trait key of a name: lowercase, every run of characters that are not
    letters or digits becomes one `_`, no leading or trailing `_`.

    Letters are Unicode letters (categories L*), digits are decimal digits (Nd); combining marks
    (M*) stay with their letter, and the name is NFC-normalized after lowercasing, so `Café`
    gives `café` however it was typed. Other characters (punctuation, spaces, `_`, symbols,
    `²`, emoji) separate words.
    """
    words: list[str] = []
    current: list[str] = []
    for char in unicodedata.normalize("NFC", name.lower()):
        category = unicodedata.category(char)
        if category[0] in "LM" or category == "Nd":
            current.append(char)
        elif current:
            words.append("".join(current))
            current = []
    if current:
        words.append("".join(current))
    return "_".join(words)


def stable_id(*parts: str, length: int = _ID_LENGTH) -> str:
    """A base62 digest of the parts: deterministic, so runs repeat."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    number = int.from_bytes(digest, "big")
    chars = []
    for _ in range(length):
        number, rest = divmod(number, 62)
        chars.append(_BASE62[rest])
    return "".join(chars)


DEFAULT_SPACE_ID: Final = "spa_" + stable_id("pointillist-mock space", length=22)


# -- definitions ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Condition:
    """One property test of a `where` filter: `{prop: value}` is eq (a list: in), or
    `{prop: {gte: 100, lt: 500}}` with eq, ne, gt, gte, lt, lte, in, exists (true/false).

    eq/ne/in compare JSON values (a bool never equals a number); gt/gte/lt/lte hold only for two
    finite numbers or two strings; a missing or null property fails every test but `ne`, `exists:
    false` and a comparison with null.
    """

    prop: str
    op: Operator
    value: Any

    def matches(self, properties: Mapping[str, Any]) -> bool:
        present = self.prop in properties and properties[self.prop] is not None
        actual = properties.get(self.prop)
        if self.op == "exists":
            return present is bool(self.value)
        if self.op == "eq":
            return same_value(actual, self.value)
        if self.op == "ne":
            return not same_value(actual, self.value)
        if self.op == "in":
            return any(same_value(actual, option) for option in self.value)
        if not present:
            return False
        both_numbers = is_number(actual) and is_number(self.value)
        if not both_numbers and not (isinstance(actual, str) and isinstance(self.value, str)):
            return False
        if self.op == "gt":
            return bool(actual > self.value)
        if self.op == "gte":
            return bool(actual >= self.value)
        if self.op == "lt":
            return bool(actual < self.value)
        return bool(actual <= self.value)


def is_number(value: object) -> TypeGuard[int | float]:
    return (type(value) is int) or (type(value) is float and math.isfinite(value))


def same_value(a: object, b: object) -> bool:
    """JSON equality: 1 == 1.0, but True is not 1 and "1" is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if is_number(a) and is_number(b):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


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


_TOP_KEYS: Final = frozenset({"space_id", "emit", "audiences", "computed_traits"})
_AUDIENCE_KEYS: Final = frozenset({
    "name", "key", "id", "emit", "event", "within_days", "min_count", "where", "union",
    "intersection",
})
_TRAIT_KEYS: Final = frozenset({
    "name", "key", "id", "emit", "event", "within_days", "aggregate", "property", "where",
})


def parse_definitions(data: Any) -> Definitions:
    """Check a loaded definitions document; every problem is a DefinitionError saying where."""
    if not isinstance(data, dict):
        raise DefinitionError("the definitions must be a mapping with audiences and/or "
                              "computed_traits")
    _unknown_keys(data, _TOP_KEYS, "the definitions")
    space_id = data.get("space_id", DEFAULT_SPACE_ID)
    if not _is_text(space_id):
        raise DefinitionError("space_id must be a non-blank string")
    emit = _emit(data.get("emit", "identify"), "emit")
    raw_audiences = _list(data.get("audiences", []), "audiences")
    raw_traits = _list(data.get("computed_traits", []), "computed_traits")
    if not raw_audiences and not raw_traits:
        raise DefinitionError("the definitions hold no audiences and no computed_traits")

    audiences = [_audience(item, f"audiences[{i}]", emit) for i, item in enumerate(raw_audiences)]
    traits = [_trait(item, f"computed_traits[{i}]", emit) for i, item in enumerate(raw_traits)]
    where_of: dict[str, str] = {}
    ids: dict[str, str] = {}
    for (where, definition) in _located(audiences, traits):
        if definition.key in where_of:
            raise DefinitionError(
                f"{where} ({definition.name}): key {definition.key!r} is also the key of "
                f"{where_of[definition.key]}; give one of them another name or an explicit key"
            )
        where_of[definition.key] = f"{where} ({definition.name})"
        if definition.id in ids:
            raise DefinitionError(f"{where} ({definition.name}): id {definition.id!r} is also "
                                  f"the id of {ids[definition.id]}")
        ids[definition.id] = f"{where} ({definition.name})"
    return Definitions(tuple(_resolve_combinations(audiences)), tuple(traits), space_id)


def _located(
    audiences: list[Audience], traits: list[ComputedTrait]
) -> Iterable[tuple[str, Definition]]:
    for i, audience in enumerate(audiences):
        yield f"audiences[{i}]", audience
    for i, trait in enumerate(traits):
        yield f"computed_traits[{i}]", trait


def _is_text(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and bool(value.strip())


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise DefinitionError(f"{where} must be a list")
    return value


def _unknown_keys(item: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(str(k) for k in item if k not in allowed)
    if unknown:
        raise DefinitionError(f"{where}: unknown key(s) {', '.join(unknown)}; "
                              f"allowed: {', '.join(sorted(allowed))}")


def _emit(value: Any, where: str) -> Emit:
    if value not in EMITS:
        raise DefinitionError(f"{where} must be identify or track, not {value!r}")
    return cast(Emit, value)


def _head(item: Any, where: str, allowed: frozenset[str], prefix: str,
          default_emit: Emit) -> tuple[str, str, str, Emit, str]:
    """name, key, id, emit and the location text of a definition."""
    if not isinstance(item, dict):
        raise DefinitionError(f"{where} must be a mapping")
    name = item.get("name")
    if not _is_text(name):
        raise DefinitionError(f"{where}: name must be a non-blank string")
    here = f"{where} ({name})"
    _unknown_keys(item, allowed, here)
    if "key" in item:
        key = item["key"]
        if not _is_text(key) or snake_case(key) != key:
            raise DefinitionError(
                f"{here}: key must be snake_cased (lowercase letters and digits joined by "
                f"single _), not {key!r}")
    else:
        key = snake_case(name)
        if not key:
            raise DefinitionError(f"{here}: the name has no letters or digits to make a key "
                                  "from; give a key")
    computation_id = item.get("id", f"{prefix}_{stable_id(prefix, key)}")
    if not _is_text(computation_id):
        raise DefinitionError(f"{here}: id must be a non-blank string")
    emit = _emit(item.get("emit", default_emit), f"{here}: emit")
    return name, key, computation_id, emit, here


def _audience(item: Any, where: str, default_emit: Emit) -> Audience:
    name, key, computation_id, emit, here = _head(item, where, _AUDIENCE_KEYS, "aud",
                                                  default_emit)
    combos = [c for c in ("union", "intersection") if c in item]
    if combos:
        rule_keys = sorted(k for k in ("event", "within_days", "min_count", "where") if k in item)
        if len(combos) > 1 or rule_keys:
            raise DefinitionError(f"{here}: an audience is either an event rule (event, "
                                  "within_days, min_count, where) or one union/intersection")
        combine = cast(Combine, combos[0])
        parts = item[combine]
        if (not isinstance(parts, list) or len(parts) < 2
                or not all(_is_text(p) for p in parts)):
            raise DefinitionError(f"{here}: {combine} must list two or more audience names "
                                  "or keys")
        return Audience(name, key, computation_id, emit, combine=combine, of=tuple(parts))
    rule = _rule(item, here)
    min_count = item.get("min_count", 1)
    if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
        raise DefinitionError(f"{here}: min_count must be an integer >= 1, not {min_count!r}")
    return Audience(name, key, computation_id, emit, rule=rule, min_count=min_count)


def _trait(item: Any, where: str, default_emit: Emit) -> ComputedTrait:
    name, key, computation_id, emit, here = _head(item, where, _TRAIT_KEYS, "tra", default_emit)
    rule = _rule(item, here)
    aggregate = item.get("aggregate", "count")
    if aggregate not in AGGREGATES:
        raise DefinitionError(f"{here}: aggregate must be count or sum, not {aggregate!r}")
    prop = item.get("property")
    if aggregate == "sum" and not _is_text(prop):
        raise DefinitionError(f"{here}: aggregate sum needs property: the numeric property "
                              "to add up")
    if aggregate == "count" and prop is not None:
        raise DefinitionError(f"{here}: property is only for aggregate: sum")
    return ComputedTrait(name, key, computation_id, emit, rule, cast(Aggregate, aggregate), prop)


def _rule(item: Mapping[str, Any], here: str) -> EventRule:
    event = item.get("event")
    if not _is_text(event):
        raise DefinitionError(f"{here}: event must be a non-blank string (a track event name)")
    days = item.get("within_days")
    if not is_number(days) or days <= 0:
        raise DefinitionError(f"{here}: within_days must be a number > 0, not {days!r}")
    where = item.get("where", {})
    if not isinstance(where, dict):
        raise DefinitionError(f"{here}: where must be a mapping of property → value or "
                              "{operator: value}")
    return EventRule(event, float(days), tuple(_conditions(where, here)))


def _conditions(where: Mapping[str, Any], here: str) -> Iterable[Condition]:
    for prop, test in where.items():
        if not _is_text(prop):
            raise DefinitionError(f"{here}: where: property names must be non-blank strings")
        if isinstance(test, list):
            yield Condition(prop, "in", tuple(test))
        elif not isinstance(test, dict):
            yield Condition(prop, "eq", test)
        elif not test:
            raise DefinitionError(f"{here}: where.{prop}: an empty operator mapping")
        else:
            for op, value in test.items():
                yield _condition(prop, op, value, f"{here}: where.{prop}.{op}")


def _condition(prop: str, op: Any, value: Any, here: str) -> Condition:
    if op not in OPERATORS:
        raise DefinitionError(f"{here}: unknown operator; use one of {', '.join(OPERATORS)}")
    if op == "in":
        if not isinstance(value, list):
            raise DefinitionError(f"{here}: in needs a list")
        return Condition(prop, "in", tuple(value))
    if op == "exists" and not isinstance(value, bool):
        raise DefinitionError(f"{here}: exists needs true or false")
    if op in ("gt", "gte", "lt", "lte") and not (is_number(value) or isinstance(value, str)):
        raise DefinitionError(f"{here}: {op} needs a number or a string")
    return Condition(prop, cast(Operator, op), value)


def _resolve_combinations(audiences: list[Audience]) -> list[Audience]:
    """Combinations name their parts by name or key; resolve to keys and order every audience
    after its parts (file order otherwise). A cycle or an unknown part is an error."""
    by_ref: dict[str, Audience] = {}
    for audience in audiences:
        by_ref.setdefault(audience.key, audience)
    for audience in audiences:
        by_ref.setdefault(audience.name, audience)
    resolved: dict[str, Audience] = {}
    for audience in audiences:
        if audience.combine is None:
            resolved[audience.key] = audience
            continue
        keys = []
        for ref in audience.of:
            part = by_ref.get(ref)
            if part is None:
                raise DefinitionError(f"audience {audience.name!r}: {audience.combine} names "
                                      f"{ref!r}, which is not an audience of this file")
            if part.key == audience.key:
                raise DefinitionError(f"audience {audience.name!r} cannot contain itself")
            keys.append(part.key)
        resolved[audience.key] = Audience(
            audience.name, audience.key, audience.id, audience.emit,
            combine=audience.combine, of=tuple(dict.fromkeys(keys)))
    ordered: list[Audience] = []
    state: dict[str, str] = {}

    def visit(audience: Audience, path: tuple[str, ...]) -> None:
        if state.get(audience.key) == "done":
            return
        if state.get(audience.key) == "visiting":
            cycle = " → ".join((*path, audience.name))
            raise DefinitionError(f"audiences form a cycle: {cycle}")
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
