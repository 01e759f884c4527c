"""Checking one Segment message against a plan, as Protocols does (pure).

- track: the rule of its `event`, matched exactly (Protocols blocks `subscription_cancelled`
  under a plan that has `Subscription Cancelled`); no rule at all is an unplanned event.
- page / screen: the rule of their `name`, when the plan has one; identify / group: the plan's
  identify / group rule, when it has one. Those are never 'unplanned' (Protocols' unplanned-event
  control is for track calls).
- versions: `context.protocols.event_version` picks a version; missing or unknown, the oldest.
- the common rule, when there is one, checks every message, whatever its type.

Violation kinds: required, invalid_type, invalid_value (enum, pattern, range ... every other JSON
Schema keyword) and unplanned_event. Unplanned properties (a property or trait the rule does not
list) are not a violation in Protocols: they show in the Source Schema ("nested properties
might be marked as unplanned in the Source Schema", connections/sources/schema/index.md; the
Standard Schema Controls' "Unplanned Properties/Traits": "Segment checks the names of incoming
properties/traits against your Tracking Plan", protocols/faq.md), and "Omit Properties" removes
them. They are reported apart (Findings.unplanned, kind unplanned_property); a rule that
lists no property plans none, and an unplanned event plans none either ("the entire Tracking
Plan has nothing and everything is considered to be unplanned",
protocols/enforce/schema-configuration.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jsonschema import ValidationError

from .model import KEYED, PAYLOAD, Plan, Rule, Violation, ViolationKind
from .schemas import extra_keys, matches

_SHOWN = 60
Found = tuple[ViolationKind, str, str]


@dataclass(frozen=True)
class Findings:
    """violations: what Protocols calls violations; unplanned: unplanned properties or traits,
    reported apart from them."""

    violations: list[Violation] = field(default_factory=list)
    unplanned: list[Violation] = field(default_factory=list)

    def all(self) -> list[Violation]:
        return [*self.violations, *self.unplanned]


def event_name(message: Mapping[str, Any]) -> str | None:
    """The name violations are grouped by: track's event, page's and screen's name."""
    call_type = message.get("type")
    name = message.get("event") if call_type == "track" else message.get("name")
    return name if isinstance(name, str) and call_type in KEYED else None


def event_version(message: Mapping[str, Any]) -> Any:
    context = message.get("context")
    protocols = context.get("protocols") if isinstance(context, dict) else None
    return protocols.get("event_version") if isinstance(protocols, dict) else None


def check(message: Mapping[str, Any], plan: Plan) -> Findings:
    """Every finding: the event rule's violations, then the common rule's; unplanned apart."""
    event = check_event(message, plan)
    return Findings([*event.violations, *check_common(message, plan)], event.unplanned)


def check_event(message: Mapping[str, Any], plan: Plan) -> Findings:
    """The message against its own rule (Protocols' Standard Schema Controls)."""
    kind, name, ident = _who(message)
    rule = plan.rule_for(kind, name, event_version(message)) if kind is not None else None
    violations: list[Violation] = []
    unplanned: list[Violation] = []
    seen: set[tuple[str, str]] = set()
    if kind == "track" and rule is None:
        shown = json.dumps(message.get("event"), ensure_ascii=False)
        violations.append(Violation(
            ident, kind, name, "unplanned_event", "event",
            f"the event {shown} is not in the tracking plan (names match exactly, case "
            "included)", None, "event"))
        unplanned += [Violation(ident, kind, name, *item, None, "event")
                      for item in _unplanned(message, "properties", None)]
    if rule is not None:
        for found in _schema_violations(message, rule):
            if found[:2] not in seen:
                seen.add(found[:2])
                violations.append(Violation(ident, kind, name, *found, rule.version, "event"))
        unplanned += [Violation(ident, kind, name, *item, rule.version, "event")
                      for item in _unplanned(message, PAYLOAD[rule.type], rule)]
    return Findings(violations, unplanned)


def check_common(message: Mapping[str, Any], plan: Plan) -> list[Violation]:
    """The message against the common rule (Protocols' Common JSON Schema)."""
    if plan.common is None:
        return []
    kind, name, ident = _who(message)
    return [Violation(ident, kind, name, *found, None, "common")
            for found in _schema_violations(message, plan.common)]


def _who(message: Mapping[str, Any]) -> tuple[str | None, str | None, str | None]:
    call_type = message.get("type")
    message_id = message.get("messageId")
    return (call_type if isinstance(call_type, str) else None, event_name(message),
            message_id if isinstance(message_id, str) else None)


def _schema_violations(message: Mapping[str, Any], rule: Rule) -> Iterable[Found]:
    try:
        errors = sorted(rule.validator.iter_errors(message),
                        key=lambda e: list(map(str, e.path)))
    except RecursionError:  # plans are depth-limited; a message nested ~1000 deep is not
        yield ("invalid_value", "", "the message is nested too deeply to be checked against "
               "the tracking plan")
        return
    for error in errors:
        yield from _word(error)


def _unplanned(message: Mapping[str, Any], section: str, rule: Rule | None) -> Iterable[Found]:
    payload = message.get(section)
    if not isinstance(payload, dict):
        return
    what = "this event" if rule is None else _what(rule)
    for key in payload:
        if rule is not None and (key in rule.planned
                                 or any(matches(p, key) for p in rule.patterns)):
            continue
        path = f"{section}.{key}"
        yield "unplanned_property", path, f"{path} is not in the tracking plan for {what}"


def _what(rule: Rule) -> str:
    return json.dumps(rule.key, ensure_ascii=False) if rule.key is not None else (
        f"{rule.type} calls")


def dotted(path: Iterable[Any]) -> str:
    return ".".join(str(step) for step in path)


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "..."


def _word(error: ValidationError) -> Iterable[Found]:
    """Protocols' wording where it has one ("properties.x is required", "Invalid type.
    Expected: string, given: integer"), JSON terms everywhere else (never a Python repr)."""
    at = dotted(error.absolute_path)
    keyword = error.validator
    value: Any = error.validator_value
    instance: Any = error.instance
    if keyword == "required" and isinstance(instance, dict):
        for name in value:
            if name not in instance:
                path = f"{at}.{name}" if at else str(name)
                yield "required", path, f"{path} is required"
        return
    where = at or "the message"
    if keyword == "additionalProperties" and isinstance(instance, dict):
        for name in extra_keys(instance, error.schema):
            path = f"{at}.{name}" if at else str(name)
            yield ("invalid_value", path, f"{path} is not allowed (the rule's schema has "
                   "additionalProperties: false)")
        return
    if keyword == "type":
        expected = ", ".join(value) if isinstance(value, list) else str(value)
        yield ("invalid_type", at,
               f"{where}: Invalid type. Expected: {expected}, given: {json_type(instance)}")
        return
    yield "invalid_value", at, f"{where} {_rest(keyword, value, instance)}"


_RANGE = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}
_PLAIN = {
    "not": "must not match the schema {value}",
    "anyOf": "must match at least one of the schemas {value}",
    "oneOf": "must match exactly one of the schemas {value}",
    "multipleOf": "must be a multiple of {value}, not {instance}",
    "uniqueItems": "must not repeat an item",
    "contains": "must contain an item that matches {value}",
    "propertyNames": "has a property name that does not match {value}",
    "dependencies": "misses a property that another one needs ({value})",
    "additionalItems": "has more items than the schema lists",
    "minProperties": "must have at least {value} properties",
    "maxProperties": "must have at most {value} properties",
    "format": "must be in the format {value}, not {instance}",
}


def _rest(keyword: Any, value: Any, instance: Any) -> str:
    if keyword == "enum":
        return f"must be one of {', '.join(show(choice) for choice in value)}, not {show(instance)}"
    if keyword == "const":
        return f"must be {show(value)}, not {show(instance)}"
    if keyword == "pattern":
        return f"must match the pattern {show(value)}, not {show(instance)}"
    if keyword in _RANGE:
        return f"must be {_RANGE[keyword]} {show(value)}, not {show(instance)}"
    if keyword in ("minLength", "maxLength", "minItems", "maxItems"):
        bound = "at least" if str(keyword).startswith("min") else "at most"
        unit = "characters" if str(keyword).endswith("Length") else "items"
        return f"must have {bound} {value} {unit}, not {len(instance)}"
    if keyword == "not" and isinstance(value, dict) and set(value) == {"pattern"}:
        return f"must not match the pattern {show(value['pattern'])}, as {show(instance)} does"
    if keyword in _PLAIN:
        return _PLAIN[str(keyword)].format(value=show(value), instance=show(instance))
    if keyword is None:  # a `false` schema
        return "is not allowed by the tracking plan (its schema is false)"
    return f"does not meet the JSON Schema keyword {keyword} ({show(value)})"
