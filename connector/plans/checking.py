"""Checking one Segment message against a plan, as Protocols does (pure).

- track: the rule of its `event`, matched exactly (Protocols blocks `subscription_cancelled`
  under a plan that has `Subscription Cancelled`); no rule at all is an unplanned event.
- page / screen: the rule of their `name`, when the plan has one; identify / group: the plan's
  identify / group rule, when it has one. Those are never 'unplanned' (Protocols' unplanned-event
  control is for track calls).
- versions: `context.protocols.event_version` picks a version; missing or unknown, the oldest.
- the common rule, when there is one, checks every message, whatever its type.

Kinds: required, invalid_type, invalid_value (enum, pattern, range ... every other JSON Schema
keyword), unplanned_property (a property or trait the rule does not list, or one its schema
refuses with additionalProperties: false) and unplanned_event.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from jsonschema import ValidationError

from .model import KEYED, PAYLOAD, Plan, Rule, Violation, ViolationKind

_SHOWN = 60


def event_name(message: Mapping[str, Any]) -> str | None:
    """The name violations are grouped by: track's event, page's and screen's name."""
    call_type = message.get("type")
    name = message.get("event") if call_type == "track" else message.get("name")
    return name if isinstance(name, str) and call_type in KEYED else None


def event_version(message: Mapping[str, Any]) -> Any:
    context = message.get("context")
    protocols = context.get("protocols") if isinstance(context, dict) else None
    return protocols.get("event_version") if isinstance(protocols, dict) else None


def check(message: Mapping[str, Any], plan: Plan) -> list[Violation]:
    """Every violation of the message, event rule first, then the common rule's."""
    call_type = message.get("type")
    message_id = message.get("messageId")
    ident = message_id if isinstance(message_id, str) else None
    kind = call_type if isinstance(call_type, str) else None
    name = event_name(message)
    found: list[tuple[ViolationKind, str, str, Rule | None]] = []
    rule = None
    if kind is not None:
        rule = plan.rule_for(kind, name, event_version(message))
    if kind == "track" and rule is None:
        shown = json.dumps(message.get("event"), ensure_ascii=False)
        found.append(("unplanned_event", "event",
                      f"the event {shown} is not in the tracking plan (names match exactly, "
                      "case included)", None))
    if rule is not None:
        found.extend((*item, rule) for item in _schema_violations(message, rule))
        found.extend((*item, rule) for item in _unplanned(message, rule))
    if plan.common is not None:
        found.extend((*item, plan.common) for item in _schema_violations(message, plan.common))
    seen: set[tuple[str, str]] = set()
    violations = []
    for violation_kind, path, text, source in found:
        common = source is not None and source.type == "common"
        if (violation_kind, path) in seen and not common:
            continue
        seen.add((violation_kind, path))
        violations.append(Violation(
            ident, kind, name, violation_kind, path, text,
            None if source is None or common else source.version,
            "common" if common else "event"))
    return violations


def _schema_violations(
    message: Mapping[str, Any], rule: Rule
) -> Iterable[tuple[ViolationKind, str, str]]:
    errors = sorted(rule.validator.iter_errors(message), key=lambda e: list(map(str, e.path)))
    for error in errors:
        yield from _word(error)


def _unplanned(message: Mapping[str, Any], rule: Rule) -> Iterable[tuple[ViolationKind, str, str]]:
    if rule.planned is None:
        return
    section = PAYLOAD[rule.type] if rule.type != "common" else "properties"
    payload = message.get(section)
    if not isinstance(payload, dict):
        return
    for key in payload:
        if key not in rule.planned:
            yield ("unplanned_property", f"{section}.{key}",
                   f"{section}.{key} is not in the tracking plan for {_what(rule)}")


def _what(rule: Rule) -> str:
    return f"{rule.key!r}" if rule.key is not None else f"{rule.type} calls"


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


def _word(error: ValidationError) -> Iterable[tuple[ViolationKind, str, str]]:
    """Protocols' wording where it has one ("properties.x is required", "Invalid type.
    Expected: string, given: integer"), JSON terms everywhere else."""
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
    if keyword == "additionalProperties" and isinstance(instance, dict):
        listed = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        for name in instance:
            if name not in listed:
                path = f"{at}.{name}" if at else str(name)
                yield "unplanned_property", path, f"{path} is not allowed by the tracking plan"
        return
    where = at or "the message"
    if keyword == "type":
        expected = ", ".join(value) if isinstance(value, list) else str(value)
        yield ("invalid_type", at,
               f"{where}: Invalid type. Expected: {expected}, given: {json_type(instance)}")
        return
    if keyword == "enum":
        choices = ", ".join(show(choice) for choice in value)
        text = f"{where} must be one of {choices}, not {show(instance)}"
    elif keyword == "const":
        text = f"{where} must be {show(value)}, not {show(instance)}"
    elif keyword == "pattern":
        text = f"{where} must match the pattern {show(value)}, not {show(instance)}"
    elif keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        sign = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">",
                "exclusiveMaximum": "<"}[str(keyword)]
        text = f"{where} must be {sign} {show(value)}, not {show(instance)}"
    elif keyword in ("minLength", "maxLength", "minItems", "maxItems"):
        bound = "at least" if str(keyword).startswith("min") else "at most"
        unit = "characters" if str(keyword).endswith("Length") else "items"
        text = f"{where} must have {bound} {value} {unit}, not {len(instance)}"
    else:
        text = f"{where}: {error.message} (JSON Schema keyword {keyword})"
    yield "invalid_value", at, text
