"""Reading a tracking plan in the forms users have, into one Plan (model.py).

1. Segment's Config API export: `{"display_name", "rules": {"global": <schema>, "events":
   [{"name", "version", "rules": <schema>}], "identify": <schema>, "group": <schema>}}`.
2. The Public API's rules list: `[{"type": "TRACK"|"IDENTIFY"|"GROUP"|"PAGE"|"SCREEN"|"COMMON",
   "key", "version", "jsonSchema"}]`, bare or as `{"rules": [...]}` / `{"data": {"rules": ...}}`.
3. A short form for writing by hand (YAML or JSON), compiled to the same JSON Schemas:

       events:
         Order Completed:            # or a list of these, each with its own `version`
           properties:
             order_id: {type: string, required: true}
             revenue: number         # a type name is short for {type: number}
       identify: {traits: {email: {type: string, required: true}}}
       group: {traits: {...}}
       pages: {Home: {properties: {...}}}     screens: {...}
       common: <a JSON Schema of the whole message>

Every rule is checked as a draft-07 JSON Schema. Nothing is used until every problem is known:
PlanError lists each with its path (`rules.events[2] (Order Completed): rules.properties...`).
"""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Any, Final

import yaml
from jsonschema import Draft7Validator

from ..errors import PlanError
from .model import CALL_TYPES, KEYED, PAYLOAD, Plan, Rule

DRAFT_07: Final = "http://json-schema.org/draft-07/schema#"
_META: Final = Draft7Validator(Draft7Validator.META_SCHEMA)
PUBLIC_TYPES: Final = {t.upper(): t for t in CALL_TYPES} | {"COMMON": "common"}
SHORT_KEYS: Final = ("name", "events", "identify", "group", "pages", "screens", "common")
SHORT_SECTIONS: Final = {"events": "track", "pages": "page", "screens": "screen"}
TYPE_NAMES: Final = ("string", "number", "integer", "boolean", "object", "array", "null")


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys; a plan with two `Order Completed:` is refused."""

    duplicates: list[str]


def _mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Hashable] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, Hashable) and key in seen:
            mark = key_node.start_mark
            loader.duplicates.append(
                f"line {mark.line + 1}: the key {key!r} is given twice (two rules for one "
                "event or property)")
        if isinstance(key, Hashable):
            seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def parse_text(text: str) -> tuple[Any, list[str]]:
    """JSON or YAML (a JSON document is YAML too); (data, problems)."""
    loader = _UniqueKeyLoader(text)
    loader.duplicates = []
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        return None, [f"{where}not JSON or YAML ({problem})"]
    finally:
        loader.dispose()
    return data, list(loader.duplicates)


def load_plan(path: str | Path) -> Plan:
    """Read and check a plan file; PlanError with every problem when it cannot be used."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError.of(source, [f"cannot be read ({exc})"]) from None
    data, problems = parse_text(text)
    if problems and data is None:
        raise PlanError.of(source, problems)
    return plan_from_data(data, source, problems)


def plan_from_data(data: Any, source: str = "<plan>", problems: list[str] | None = None) -> Plan:
    problems = list(problems or [])
    rules: list[Rule] = []
    name = Path(source).stem
    if isinstance(data, dict) and isinstance(data.get("data"), dict):
        data = data["data"]
    if isinstance(data, dict) and isinstance(data.get("trackingPlan"), dict):
        name = str(data["trackingPlan"].get("name", name))
    if isinstance(data, list) or (isinstance(data, dict) and isinstance(data.get("rules"), list)):
        items = data if isinstance(data, list) else data["rules"]
        prefix = "" if isinstance(data, list) else "rules"
        rules = _public_rules(items, prefix, problems)
    elif isinstance(data, dict) and isinstance(data.get("rules"), dict):
        name = str(data.get("display_name") or data.get("name") or name)
        rules = _config_rules(data["rules"], problems)
    elif isinstance(data, dict) and data and set(data) <= set(SHORT_KEYS):
        name = str(data.get("name") or name)
        rules = _short_rules(data, problems)
    else:
        problems.append(
            "not a tracking plan: expected a Config API export ({\"rules\": {\"events\": "
            "[...]}}), a Public API rules list ([{\"type\", \"key\", \"version\", "
            "\"jsonSchema\"}]) or the short form (events:, identify:, group:, pages:, "
            f"screens:, common:), not {_kind(data)}")
    plan = _assemble(name, rules, problems)
    if problems:
        raise PlanError.of(source, problems)
    return plan


def _kind(data: Any) -> str:
    if isinstance(data, dict):
        return "an object with keys " + ", ".join(map(str, data)) if data else "an empty object"
    return "nothing" if data is None else f"a {type(data).__name__}"


def _rule(call_type: str, key: str | None, version: Any, schema: Any, where: str,
          problems: list[str]) -> Rule | None:
    ok = True
    if call_type in KEYED and (not isinstance(key, str) or not key):
        problems.append(f"{where}: a {call_type} rule needs a non-empty name, not {key!r}")
        ok = False
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        problems.append(f"{where}: version must be an integer >= 1, not {version!r}")
        ok = False
    if not isinstance(schema, dict):
        problems.append(f"{where}: the rule's JSON Schema must be an object, not {_kind(schema)}")
        return None
    errors = sorted(_META.iter_errors(schema), key=lambda e: [str(p) for p in e.absolute_path])
    for error in errors:
        at = ".".join(str(step) for step in error.absolute_path) or "(the schema)"
        problems.append(f"{where}: invalid JSON Schema at {at}: {error.message}")
    if errors or not ok:
        return None
    return Rule(call_type, key if call_type in KEYED else None, version,  # type: ignore[arg-type]
                schema, _planned(call_type, schema), where, Draft7Validator(schema))


def _planned(call_type: str, schema: dict[str, Any]) -> frozenset[str] | None:
    if call_type == "common":
        return None
    section = schema.get("properties", {}).get(PAYLOAD[call_type])
    listed = section.get("properties") if isinstance(section, dict) else None
    return frozenset(listed) if isinstance(listed, dict) else None


def _public_rules(items: list[Any], prefix: str, problems: list[str]) -> list[Rule]:
    rules = []
    for index, item in enumerate(items):
        where = f"{prefix}[{index}]"
        if not isinstance(item, dict):
            problems.append(f"{where}: a rule must be an object, not {_kind(item)}")
            continue
        raw_type = item.get("type")
        call_type = PUBLIC_TYPES.get(str(raw_type).upper()) if isinstance(raw_type, str) else None
        key = item.get("key")
        if isinstance(key, str):
            where = f"{where} ({key})"
        if call_type is None:
            problems.append(f"{where}: type must be one of {', '.join(PUBLIC_TYPES)}, "
                            f"not {raw_type!r}")
            continue
        rule = _rule(call_type, key, item.get("version", 1), item.get("jsonSchema"),
                     f"{where}: jsonSchema", problems)
        if rule is not None:
            rules.append(rule)
    return rules


def _config_rules(section: dict[str, Any], problems: list[str]) -> list[Rule]:
    rules = []
    unknown = sorted(set(section) - {"global", "events", "identify", "group"})
    if unknown:
        problems.append(f"rules: unknown key(s) {', '.join(unknown)}; "
                        "allowed: events, global, group, identify")
    for name, call_type in (("global", "common"), ("identify", "identify"), ("group", "group")):
        if section.get(name) not in (None, {}):
            rule = _rule(call_type, None, 1, section[name], f"rules.{name}", problems)
            if rule is not None:
                rules.append(rule)
    events = section.get("events", [])
    if not isinstance(events, list):
        problems.append(f"rules.events must be a list, not {_kind(events)}")
        return rules
    for index, event in enumerate(events):
        where = f"rules.events[{index}]"
        if not isinstance(event, dict):
            problems.append(f"{where}: an event must be an object, not {_kind(event)}")
            continue
        if isinstance(event.get("name"), str):
            where = f"{where} ({event['name']})"
        rule = _rule("track", event.get("name"), event.get("version", 1), event.get("rules"),
                     where, problems)
        if rule is not None:
            rules.append(rule)
    return rules


def _short_rules(data: dict[str, Any], problems: list[str]) -> list[Rule]:
    rules = []
    for section, call_type in SHORT_SECTIONS.items():
        entries = data.get(section) or {}
        if not isinstance(entries, dict):
            problems.append(f"{section} must map names to their properties, not {_kind(entries)}")
            continue
        for name, spec in entries.items():
            versions = spec if isinstance(spec, list) else [spec]
            for index, one in enumerate(versions):
                where = f"{section}.{name}" + (f"[{index}]" if isinstance(spec, list) else "")
                rule = _short_rule(call_type, str(name), one, where, problems)
                if rule is not None:
                    rules.append(rule)
    for section in ("identify", "group"):
        if data.get(section) is not None:
            rule = _short_rule(section, None, data[section], section, problems)
            if rule is not None:
                rules.append(rule)
    if data.get("common") is not None:
        rule = _rule("common", None, 1, data["common"], "common", problems)
        if rule is not None:
            rules.append(rule)
    return rules


def _short_rule(call_type: str, name: str | None, spec: Any, where: str,
                problems: list[str]) -> Rule | None:
    section = PAYLOAD[call_type]
    spec = {} if spec is None else spec
    if not isinstance(spec, dict):
        problems.append(f"{where}: expected {{{section}: ..., version: N}}, not {_kind(spec)}")
        return None
    unknown = sorted(set(spec) - {section, "version", "description"})
    if unknown:
        problems.append(f"{where}: unknown key(s) {', '.join(map(str, unknown))}; "
                        f"allowed: description, {section}, version")
    fields = spec.get(section) or {}
    if not isinstance(fields, dict):
        problems.append(f"{where}.{section} must map names to types, not {_kind(fields)}")
        return None
    listed: dict[str, Any] = {}
    required: list[str] = []
    for key, field in fields.items():
        at = f"{where}.{section}.{key}"
        if isinstance(field, str | list):
            field = {"type": field}
        if not isinstance(field, dict):
            problems.append(f"{at}: expected a type name ({', '.join(TYPE_NAMES)}) or a JSON "
                            f"Schema with an optional `required: true`, not {_kind(field)}")
            continue
        field = dict(field)
        needed = field.pop("required", False)
        if not isinstance(needed, bool):
            problems.append(f"{at}.required must be true or false, not {needed!r}")
        elif needed:
            required.append(str(key))
        listed[str(key)] = field
    body: dict[str, Any] = {"type": "object", "properties": listed}
    if required:
        body["required"] = required
    schema: dict[str, Any] = {"$schema": DRAFT_07, "type": "object",
                              "properties": {section: body}}
    if required:
        schema["required"] = [section]
    return _rule(call_type, name, spec.get("version", 1), schema, where, problems)


def _assemble(name: str, rules: list[Rule], problems: list[str]) -> Plan:
    by_key: dict[tuple[str, str | None], dict[int, Rule]] = {}
    common = None
    for rule in rules:
        if rule.type == "common":
            if common is not None:
                problems.append(f"{rule.where}: a second common rule (the first is at "
                                f"{common.where})")
            common = rule
            continue
        versions = by_key.setdefault((rule.type, rule.key), {})
        first = versions.get(rule.version)
        if first is not None:
            what = f"{rule.type} {rule.key!r}" if rule.key is not None else rule.type
            problems.append(f"{rule.where}: a second rule for {what} version {rule.version} "
                            f"(the first is at {first.where})")
            continue
        versions[rule.version] = rule
    ordered = {key: tuple(v[n] for n in sorted(v)) for key, v in by_key.items()}
    return Plan(name, ordered, common)


def plan_summary(plan: Plan) -> str:
    """`3 track events, identify, common` (for a start-up line)."""
    events = sum(1 for call_type, _ in plan.rules if call_type == "track")
    parts = [f"{events} track event{'s' if events != 1 else ''}"]
    parts += sorted(t for t, _ in plan.rules if t not in KEYED)
    parts += ["common"] if plan.common is not None else []
    return ", ".join(parts)


__all__ = ["load_plan", "parse_text", "plan_from_data", "plan_summary"]
