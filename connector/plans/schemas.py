"""A rule's JSON Schema made safe and exact before any message meets it (pure).

- `"type": "any"` (or `["any", ...]`), which Segment's editor offers ("Data type options
  include `any, array, object, ...`", protocols/tracking-plan/create.md), is no constraint: the
  `type` keyword is dropped there.
- `$ref`: a plan never makes the gateway fetch a URL or read a file. A local ref
  (`#/definitions/money`, `#`-pointers) is resolved at load and put in place (draft-07: the
  keywords beside a `$ref` are ignored); any other ref (http(s)://, file://, relative) is
  refused, as are a ref that points nowhere and one that loops.
- Patterns (`pattern`, `patternProperties`) run on RE2 (google-re2), whose time is linear in
  the text: no pattern can stall a check (Python's `re` takes 38 s for `^(a+)+$` against 31
  characters). RE2 has no backreferences or lookaround: such a pattern is refused at load.

The walk knows which keywords hold schemas, so `enum`/`const`/`default` values are data, never
rewritten. Plans are depth-limited before they come here (parsing.MAX_DEPTH).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any, Final
from urllib.parse import unquote

import re2
from jsonschema import Draft7Validator, ValidationError, validators
from jsonschema.protocols import Validator
from referencing import Registry

from .parsing import MAX_VALUES

SCHEMA_MAPS: Final = ("properties", "patternProperties", "definitions", "dependencies")
SCHEMA_LISTS: Final = ("allOf", "anyOf", "oneOf", "items")
SCHEMA_ONE: Final = ("additionalItems", "additionalProperties", "contains", "propertyNames",
                     "not", "if", "then", "else", "items")
_OPTIONS: Final = re2.Options()
_OPTIONS.log_errors = False


class _Budget:
    def __init__(self) -> None:
        self.left = MAX_VALUES


@lru_cache(maxsize=4096)
def compiled(pattern: str) -> Any:
    """RE2's compiled pattern (re2.error when RE2 cannot take it)."""
    return re2.compile(pattern, _OPTIONS)


def matches(pattern: str, text: str) -> bool:
    return compiled(pattern).search(text) is not None


def prepare(schema: dict[str, Any], where: str, problems: list[str],
            short: str | None = None) -> dict[str, Any] | None:
    """The schema with `any` dropped and local refs in place; None (with problems) when it
    cannot be used safely."""
    before = len(problems)
    loose = _rewrite(schema, (), where, problems, short)
    if len(problems) > before:
        return None
    problems.extend(meta_problems(loose, where))
    if len(problems) > before:
        return None
    resolved = _resolve(loose, loose, (), [], (where, short), problems, _Budget())
    return None if len(problems) > before else resolved


Steps = tuple[str, ...]


def _subschemas(schema: dict[str, Any]) -> Iterator[tuple[Steps, Any, Callable[[Any], None]]]:
    """(path steps, subschema, setter) for every place in `schema` that holds a schema."""
    for keyword in SCHEMA_MAPS:
        holder = schema.get(keyword)
        if isinstance(holder, dict):
            for name, sub in holder.items():
                if keyword == "dependencies" and isinstance(sub, list):
                    continue  # a list of property names, not a schema
                yield (keyword, str(name)), sub, _setter(holder, name)
    for keyword in SCHEMA_LISTS:
        holder = schema.get(keyword)
        if isinstance(holder, list):
            for index, sub in enumerate(holder):
                yield (keyword, str(index)), sub, _setter(holder, index)
    for keyword in SCHEMA_ONE:
        if keyword in schema and not isinstance(schema[keyword], list):
            yield (keyword,), schema[keyword], _setter(schema, keyword)


def _setter(holder: Any, key: Any) -> Callable[[Any], None]:
    def put(value: Any) -> None:
        holder[key] = value
    return put


def _join(at: str, step: str) -> str:
    return f"{at}.{step}" if at else step


def _place(where: str, at: Steps, short: str | None) -> str:
    """`where` and the path inside the rule, as the user wrote them: in the short form, a
    field's own path (`events.A.properties.x`), not the compiled schema's."""
    if short is not None and at[:3] == ("properties", short, "properties") and len(at) > 3:
        where, at = f"{where}.{short}.{at[3]}", at[4:]
    return f"{where}: the {{what}} at {'.'.join(at)}" if at else f"{where}: the {{what}}"


def _copied(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of `schema` whose maps and lists of subschemas are copies too (one level): what
    a rewrite may change without touching the plan it came from."""
    out = dict(schema)
    for keyword in SCHEMA_MAPS:
        if isinstance(out.get(keyword), dict):
            out[keyword] = dict(out[keyword])
    for keyword in SCHEMA_LISTS:
        if isinstance(out.get(keyword), list):
            out[keyword] = list(out[keyword])
    return out


def _rewrite(schema: Any, at: Steps, where: str, problems: list[str], short: str | None) -> Any:
    """A copy without `any` types; remote refs and RE2-refused patterns reported."""
    if not isinstance(schema, dict):
        return schema
    out = _copied(schema)
    kind = out.get("type")
    if kind == "any" or (isinstance(kind, list) and "any" in kind):
        del out["type"]
    ref = out.get("$ref")
    if isinstance(ref, str) and not ref.startswith("#"):
        problems.append(_place(where, at, short).format(what=f"$ref {json.dumps(ref)}")
                        + " is refused: a plan may only refer inside itself "
                        "(#/definitions/...), never to a URL or a file")
    patterns = [out["pattern"]] if isinstance(out.get("pattern"), str) else []
    if isinstance(out.get("patternProperties"), dict):
        patterns += list(out["patternProperties"])
    for pattern in patterns:
        try:
            compiled(pattern)
        except re2.error as exc:
            reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
            problems.append(_place(where, at, short).format(what=f"pattern {json.dumps(pattern)}")
                            + f" is refused: RE2 cannot run it ({reason}); patterns run on "
                            "RE2, in linear time, without backreferences or lookaround")
    for step, sub, put in list(_subschemas(out)):
        put(_rewrite(sub, (*at, *step), where, problems, short))
    return out


def _pointer(root: Any, ref: str) -> tuple[bool, Any]:
    target = root
    fragment = unquote(ref[1:])
    if fragment in ("", "/"):
        return True, root
    if not fragment.startswith("/"):
        return False, None
    for raw in fragment[1:].split("/"):
        step = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(target, dict) and step in target:
            target = target[step]
        elif isinstance(target, list) and step.isdigit() and int(step) < len(target):
            target = target[int(step)]
        else:
            return False, None
    return True, target


def _resolve(schema: Any, root: Any, at: Steps, chain: list[str], rule: tuple[str, str | None],
             problems: list[str], budget: _Budget) -> Any:
    if not isinstance(schema, dict):
        return schema
    budget.left -= 1
    if budget.left < 0:
        if budget.left == -1:
            problems.append(f"{rule[0]}: its $refs expand to more than {MAX_VALUES} schemas "
                            "(the limit for a plan)")
        return schema
    ref = schema.get("$ref")
    if isinstance(ref, str):
        shown = json.dumps(ref)
        if ref in chain:
            problems.append(_place(rule[0], at, rule[1]).format(what=f"$ref {shown}")
                            + f" loops ({' -> '.join([*chain, ref])})")
            return schema
        found, target = _pointer(root, ref)
        if not found or not isinstance(target, dict | bool):
            problems.append(_place(rule[0], at, rule[1]).format(what=f"$ref {shown}")
                            + " points to nothing in this rule")
            return schema
        return _resolve(target, root, at, [*chain, ref], rule, problems, budget)
    out = _copied(schema)
    for step, sub, put in list(_subschemas(out)):
        if step[0] == "definitions":
            continue  # only what the rule uses is resolved; definitions stay as written
        put(_resolve(sub, root, (*at, *step), chain, rule, problems, budget))
    out.pop("definitions", None)
    return out


_META: Final = Draft7Validator(Draft7Validator.META_SCHEMA)


def meta_problems(schema: Any, where: str, at: str = "") -> list[str]:
    """What makes `schema` no draft-07 JSON Schema, each with its path, in JSON terms."""
    out = []
    errors = sorted(_META.iter_errors(schema), key=lambda e: [str(p) for p in e.absolute_path])
    for error in errors:
        path = ".".join(str(step) for step in error.absolute_path)
        path = _join(at, path) if path else at
        shown = _brief(error.instance)
        if error.validator == "anyOf" and path.split(".")[-1] == "type":
            text = (f"{shown} is not a type name (any, array, boolean, integer, null, number, "
                    "object, string) or a list of them")
        elif error.validator == "type":
            expected = error.validator_value
            named = " or ".join(expected) if isinstance(expected, list) else str(expected)
            text = f"must be {named}, not {shown}"
        else:
            text = f"{shown} is not allowed here (draft-07 meta-schema: {error.validator})"
        out.append(f"{where}: invalid JSON Schema at {path or '(the schema)'}: {text}")
    return out


def _brief(value: Any) -> str:
    """A value in JSON terms, short, without serialising a large one."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:60] + "..."


def _pattern(validator: Any, value: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if isinstance(instance, str) and isinstance(value, str) and not matches(value, instance):
        yield ValidationError(f"does not match the pattern {json.dumps(value)}")


def _pattern_properties(validator: Any, value: Any, instance: Any,
                        schema: Any) -> Iterator[ValidationError]:
    if not isinstance(instance, dict):
        return
    for pattern, subschema in value.items():
        for key, item in instance.items():
            if matches(pattern, key):
                yield from validator.descend(item, subschema, path=key, schema_path=pattern)


def extra_keys(instance: dict[str, Any], schema: Any) -> list[str]:
    """The keys of `instance` that neither `properties` nor `patternProperties` list."""
    listed = schema.get("properties", {}) if isinstance(schema, dict) else {}
    patterns = schema.get("patternProperties", {}) if isinstance(schema, dict) else {}
    return [key for key in instance if key not in listed
            and not any(matches(pattern, key) for pattern in patterns)]


def _additional(validator: Any, value: Any, instance: Any,
                schema: Any) -> Iterator[ValidationError]:
    if not isinstance(instance, dict):
        return
    extras = extra_keys(instance, schema)
    if isinstance(value, dict):
        for extra in extras:
            yield from validator.descend(instance[extra], value, path=extra)
    elif value is False and extras:
        yield ValidationError("has properties the schema does not list")


PlanValidator: Final = validators.extend(Draft7Validator, {  # type: ignore[no-untyped-call]
    "pattern": _pattern, "patternProperties": _pattern_properties,
    "additionalProperties": _additional,
})
_NOWHERE: Final = Registry()  # nothing to retrieve from: refs are resolved before this


def validator_for(schema: dict[str, Any]) -> Validator:
    return PlanValidator(schema, registry=_NOWHERE)  # type: ignore[no-any-return]


__all__ = ["PlanValidator", "extra_keys", "matches", "prepare", "validator_for"]
