"""What the gateway does with a message that breaks its plan: Protocols' Schema Configuration.

| Protocols setting (source → Schema Configuration)       | here (ProtocolsSettings)        |
|---------------------------------------------------------|---------------------------------|
| Track Calls : Unplanned Events: Block Event              | unplanned_events="block"        |
| Track Calls : Unplanned Properties: Omit Properties      | unplanned_properties="omit"     |
| Identify / Group Calls : Unplanned Traits: Omit Traits   | unplanned_traits="omit"         |
| Track / Identify / Group : JSON Schema Violations and    | violations="block" / "omit"     |
|   Advanced Blocking Controls (Common JSON Schema):       |   (one setting for both)        |
|   Block Event / Omit                                     |                                 |
| (none: unplanned properties are no violation there)      | fail_on_unplanned_properties    |

In Protocols' order: "Segment first evaluates incoming events against these controls and your
Tracking Plan. Events, properties, or traits not blocked or omitted in this phase then flow to
the next level of controls: the Advanced Blocking Controls/Common JSON Schema." So the event's
own rule is checked and its controls applied first; the common rule then checks what is left.
- Omit Properties: "properties not defined in your Tracking Plan are removed from the relevant
  event" (every property, for a rule that lists none or an unplanned event).
- Omit on a violation: "A less aggressive option is to select Omit from the dropdown which
  removes the offending property from the events": the event rule's offending top-level property;
  for the common rule, the offending field wherever it is (`context.device.advertisingId`).

The default forwards everything, violations included, as Protocols does until blocking is
turned on. A forwarded message carries what Protocols adds, `context.protocols` with its
`violations` ([{type, field, description}]; unplanned properties only with
fail_on_unplanned_properties), `omitted` and `omitted_on_violation`; a blocked one is not
forwarded and its reason says why (the gateway lists it with the dropped messages).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from ..errors import ConfigError
from .checking import Findings, check_common, check_event
from .model import PAYLOAD, PROTOCOLS_TYPE, Plan, Violation

EVENT_ACTIONS: Final = ("forward", "block")
PROPERTY_ACTIONS: Final = ("forward", "omit")
VIOLATION_ACTIONS: Final = ("forward", "omit", "block")
SCHEMA_KINDS: Final = frozenset({"required", "invalid_type", "invalid_value"})


@dataclass(frozen=True)
class ProtocolsSettings:
    unplanned_events: Literal["forward", "block"] = "forward"
    unplanned_properties: Literal["forward", "omit"] = "forward"
    unplanned_traits: Literal["forward", "omit"] = "forward"
    violations: Literal["forward", "omit", "block"] = "forward"
    fail_on_unplanned_properties: bool = False

    def __post_init__(self) -> None:
        for name, allowed in (("unplanned_events", EVENT_ACTIONS),
                              ("unplanned_properties", PROPERTY_ACTIONS),
                              ("unplanned_traits", PROPERTY_ACTIONS),
                              ("violations", VIOLATION_ACTIONS)):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name} must be one of {', '.join(allowed)}, not "
                                  f"{json.dumps(str(getattr(self, name)))}")


@dataclass(frozen=True)
class Verdict:
    """message: what is forwarded (None when blocked); blocked: why not; findings: what the
    checks found (the common rule's on the message its own rule's controls left)."""

    message: dict[str, Any] | None
    blocked: str | None = None
    findings: Findings = field(default_factory=Findings)


def evaluate(message: dict[str, Any], plan: Plan, settings: ProtocolsSettings) -> Verdict:
    event = check_event(message, plan)
    kinds = {v.kind for v in event.violations}
    if "unplanned_event" in kinds and settings.unplanned_events == "block":
        return Verdict(None, f"unplanned event {json.dumps(message.get('event'))} (unplanned "
                             "events are blocked)", event)
    broken = [v for v in event.violations if v.kind in SCHEMA_KINDS]
    if broken and settings.violations == "block":
        return Verdict(None, _blocked(broken), event)
    # Copied only along what is changed: a message nested ~1000 deep is no problem.
    forwarded = dict(message)
    section = PAYLOAD.get(str(message.get("type")), "properties")
    omitted: list[str] = []
    on_violation: list[str] = []
    payload = forwarded.get(section)
    if isinstance(payload, dict):
        payload = forwarded[section] = dict(payload)
        action = (settings.unplanned_traits if section == "traits"
                  else settings.unplanned_properties)
        if action == "omit":
            omitted = _remove_top(payload, event.unplanned, section)
        if settings.violations == "omit":
            on_violation = _remove_top(payload, broken, section)
    common = check_common(forwarded, plan)
    findings = Findings([*event.violations, *common], event.unplanned)
    if common and settings.violations == "block":
        return Verdict(None, _blocked(common), findings)
    if common and settings.violations == "omit":
        on_violation += [v.path for v in common if _remove_path(forwarded, v.path)]
    shown = [*findings.violations,
             *(findings.unplanned if settings.fail_on_unplanned_properties else [])]
    if not shown and not omitted and not on_violation:
        return Verdict(message, None, findings)  # unchanged: the very message
    context = forwarded.get("context")
    context = forwarded["context"] = dict(context) if isinstance(context, dict) else {}
    protocols = context.get("protocols")
    protocols = dict(protocols) if isinstance(protocols, dict) else {}
    protocols["violations"] = [
        {"type": PROTOCOLS_TYPE[v.kind], "field": v.path, "description": v.message}
        for v in shown]
    if omitted:
        protocols["omitted"] = omitted
    if on_violation:
        protocols["omitted_on_violation"] = on_violation
    context["protocols"] = protocols
    return Verdict(forwarded, None, findings)


def _blocked(violations: Sequence[Violation]) -> str:
    return "JSON Schema violations are blocked: " + "; ".join(v.message for v in violations)


def _remove_top(payload: dict[str, Any], violations: Sequence[Violation],
                section: str) -> list[str]:
    removed = []
    for violation in violations:
        prefix = f"{section}."
        if not violation.path.startswith(prefix):
            continue
        name = violation.path[len(prefix):].split(".", 1)[0]
        if name in payload:
            del payload[name]
            removed.append(name)
    return removed


def _remove_path(message: dict[str, Any], path: str) -> bool:
    """Remove the field at a dotted path (the common rule's offending field)."""
    steps = path.split(".") if path else []
    if not steps:
        return False
    holders: list[dict[str, Any]] = [message]
    for step in steps[:-1]:
        inner = holders[-1].get(step)
        if not isinstance(inner, dict):
            return False
        holders.append(inner)
    if steps[-1] not in holders[-1]:
        return False
    for index in range(1, len(holders)):  # copy on write, from the top
        holders[index] = holders[index - 1][steps[index - 1]] = dict(holders[index])
    del holders[-1][steps[-1]]
    return True
