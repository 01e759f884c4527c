"""Reading a tracking plan in the forms users have, into one Plan (model.py).

1. Segment's Config API export: `{"display_name", "rules": {"global": <schema>, "events":
   [{"name", "version", "rules": <schema>}], "identify": <schema>, "group": <schema>,
   "identify_traits": [...], "group_traits": [...]}}` (Typewriter v7's plan.json too). The two
   legacy lists are most often empty; an item that is a JSON Schema of the whole identify (group)
   call is read as one more identify (group) rule that the call must also meet; any other item
   is refused, naming the form, rather than guessed at.
2. The Public API's rules list: `[{"type": "TRACK"|"IDENTIFY"|"GROUP"|"PAGE"|"SCREEN"|"COMMON",
   "key", "version", "jsonSchema"}]`, bare or as `{"rules": [...]}` / `{"data": {"rules": ...}}`.
   Typewriter v8's plan.json is this list as Typewriter rewrites it: each jsonSchema tagged
   `eventMetadata` and unwrapped to the event's properties (src/api/trackingplans.ts,
   fixProperties); such a rule is read as Typewriter does, its event named by
   eventMetadata.name, and checked as the properties of the call.
3. A short form for writing by hand (YAML or JSON), compiled to the same JSON Schemas:

       events:
         Order Completed:            # or a list of these, each with its own `version`
           properties:
             order_id: {type: string, required: true}
             revenue: number         # a type name is short for {type: number}; any: anything
       identify: {traits: {email: {type: string, required: true}}}
       group: {traits: {...}}
       pages: {Home: {properties: {...}}}     screens: {...}
       common: <a JSON Schema of the whole message>

Every rule is checked as a draft-07 JSON Schema made safe by schemas.py (`any`, local `$ref`s,
RE2 patterns); the text is read within parsing.py's limits, and a plan has at most MAX_RULES
rules. Nothing is used until every problem is known: PlanError lists each with its path, as the
user wrote it (`rules.events[2] (Order Completed): ...`, `events.A.properties.y: ...`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from ..errors import PlanError
from .model import CALL_TYPES, KEYED, PAYLOAD, Plan, Rule
from .parsing import parse_text
from .schemas import meta_problems, prepare, validator_for

DRAFT_07: Final = "http://json-schema.org/draft-07/schema#"
# Segment's own limit: "Tracking Plans CSVs must also have fewer than 100,000 rows and 2,000
# rules" (protocols/tracking-plan/create.md).
MAX_RULES: Final = 2_000
PUBLIC_TYPES: Final = {t.upper(): t for t in CALL_TYPES} | {"COMMON": "common"}
SHORT_KEYS: Final = ("name", "events", "identify", "group", "pages", "screens", "common")
SHORT_SECTIONS: Final = {"events": "track", "pages": "page", "screens": "screen"}
TYPE_NAMES: Final = ("string", "number", "integer", "boolean", "object", "array", "null", "any")
CONFIG_KEYS: Final = ("events", "global", "group", "group_traits", "identify",
                      "identify_traits")
TYPEWRITER_KEYS: Final = ("$schema", "eventMetadata", "labels", "description", "$id", "id")


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:60] + "..."


def load_plan(path: str | Path) -> Plan:
    """Read and check a plan file; PlanError with every problem when it cannot be used."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError.of(source, [f"cannot be read ({exc})"]) from None
    data, problems = parse_text(text, source)
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
    count = _rule_count(data)
    if count > MAX_RULES:
        raise PlanError.of(source, [f"{count} rules is over the limit of {MAX_RULES} rules "
                                    "for a plan (Segment's own)"])
    if isinstance(data, list) or (isinstance(data, dict) and isinstance(data.get("rules"), list)):
        items = data if isinstance(data, list) else data["rules"]
        prefix = "" if isinstance(data, list) else "rules"
        if isinstance(data, dict) and isinstance(data.get("name"), str):
            name = data["name"]
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


def _rule_count(data: Any) -> int:
    if isinstance(data, list):
        return len(data)
    if not isinstance(data, dict):
        return 0
    rules = data.get("rules")
    if isinstance(rules, list):
        return len(rules)
    if isinstance(rules, dict):
        events = rules.get("events")
        return len(events) if isinstance(events, list) else 0
    return sum(len(data[key]) for key in SHORT_SECTIONS if isinstance(data.get(key), dict))


def _kind(data: Any) -> str:
    if isinstance(data, dict):
        keys = ", ".join(map(str, list(data)[:12]))
        return f"an object with keys {keys}" if data else "an empty object"
    if isinstance(data, list):
        return "an array"
    names = {str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "nothing" if data is None else names.get(type(data), "a value")


def _rule(call_type: str, key: str | None, version: Any, schema: Any, where: str,
          problems: list[str], short: str | None = None) -> Rule | None:
    ok = True
    if call_type in KEYED and (not isinstance(key, str) or not key):
        problems.append(f"{where}: a {call_type} rule needs a non-empty name, not {_shown(key)}")
        ok = False
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        problems.append(f"{where}: version must be an integer >= 1, not {_shown(version)}")
        ok = False
    if not isinstance(schema, dict):
        problems.append(f"{where}: the rule's JSON Schema must be an object, not {_kind(schema)}")
        return None
    safe = prepare(schema, where, problems, short)
    if safe is None or not ok:
        return None
    names, patterns = _planned(call_type, safe)
    return Rule(call_type, key if call_type in KEYED else None, version,  # type: ignore[arg-type]
                safe, names, where,
                validator_for(safe), patterns)


def _planned(call_type: str, schema: dict[str, Any]) -> tuple[frozenset[str], tuple[str, ...]]:
    """The property (trait) names and name patterns a rule lists. A rule that lists none
    plans none: Protocols considers "everything ... unplanned" then."""
    if call_type == "common":
        return frozenset(), ()
    names: set[str] = set()
    patterns: list[str] = []
    for part in [schema, *[s for s in schema.get("allOf", []) if isinstance(s, dict)]]:
        props = part.get("properties")
        section = props.get(PAYLOAD[call_type]) if isinstance(props, dict) else None
        if not isinstance(section, dict):
            continue
        if isinstance(section.get("properties"), dict):
            names.update(section["properties"])
        if isinstance(section.get("patternProperties"), dict):
            patterns.extend(section["patternProperties"])
    return frozenset(names), tuple(patterns)


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
        schema = item.get("jsonSchema")
        if isinstance(schema, dict) and isinstance(schema.get("eventMetadata"), dict):
            key, schema = _typewriter(schema, call_type, key)
        if isinstance(key, str):
            where = f"{where} ({key})"
        if call_type is None:
            problems.append(f"{where}: type must be one of {', '.join(PUBLIC_TYPES)}, "
                            f"not {_shown(raw_type)}")
            continue
        rule = _rule(call_type, key, item.get("version", 1), schema,
                     f"{where}: jsonSchema", problems)
        if rule is not None:
            rules.append(rule)
    return rules


def _typewriter(schema: dict[str, Any], call_type: str | None, key: Any) -> tuple[Any, Any]:
    """Typewriter v8's unwrapped rule, wrapped back as the whole call's schema."""
    meta = schema["eventMetadata"]
    name = meta.get("name", key)
    if call_type not in PAYLOAD:
        return name, schema
    payload = {k: v for k, v in schema.items() if k not in TYPEWRITER_KEYS}
    whole: dict[str, Any] = {"$schema": DRAFT_07, "type": "object",
                             "properties": {PAYLOAD[call_type]: payload}}
    if payload.get("required"):
        whole["required"] = [PAYLOAD[call_type]]
    return name, whole


def _config_rules(section: dict[str, Any], problems: list[str]) -> list[Rule]:
    rules = []
    unknown = sorted(set(section) - set(CONFIG_KEYS))
    if unknown:
        problems.append(f"rules: unknown key(s) {', '.join(unknown)}; "
                        f"allowed: {', '.join(CONFIG_KEYS)}")
    for name, call_type in (("global", "common"), ("identify", "identify"), ("group", "group")):
        extra = [] if name == "global" else _legacy_traits(section, f"{name}_traits", problems)
        if section.get(name) in (None, {}) and not extra:
            continue
        parts = [s for s in [section.get(name)] if s not in (None, {})] + extra
        schema = parts[0] if len(parts) == 1 else {"allOf": parts}
        rule = _rule(call_type, None, 1, schema, f"rules.{name}", problems)
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


def _legacy_traits(section: dict[str, Any], key: str, problems: list[str]) -> list[Any]:
    """rules.identify_traits / group_traits: the whole-call schemas they hold."""
    items = section.get(key)
    if items is None:
        return []
    if not isinstance(items, list):
        problems.append(f"rules.{key} must be a list, not {_kind(items)}")
        return []
    kept = []
    for index, item in enumerate(items):
        props = item.get("properties") if isinstance(item, dict) else None
        if isinstance(props, dict) and isinstance(props.get("traits"), dict):
            kept.append(item)
        else:
            problems.append(
                f"rules.{key}[{index}]: not read: only a JSON Schema of the whole call "
                "({\"properties\": {\"traits\": {...}}}) is understood here; move these traits "
                f"to rules.{key.removesuffix('_traits')}")
    return kept


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
    before = len(problems)
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
            problems.append(f"{at}.required must be true or false, not {_shown(needed)}")
        elif needed:
            required.append(str(key))
        loose = {k: v for k, v in field.items() if not (k == "type" and _is_any(v))}
        problems.extend(meta_problems(loose, at))
        listed[str(key)] = field
    if len(problems) > before:
        return None
    body: dict[str, Any] = {"type": "object", "properties": listed}
    if required:
        body["required"] = required
    schema: dict[str, Any] = {"$schema": DRAFT_07, "type": "object",
                              "properties": {section: body}}
    if required:
        schema["required"] = [section]
    return _rule(call_type, name, spec.get("version", 1), schema, where, problems, section)


def _is_any(value: Any) -> bool:
    return value == "any" or (isinstance(value, list) and "any" in value)


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
            what = f"{rule.type} {_shown(rule.key)}" if rule.key is not None else rule.type
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
