"""What the gateway does with a message that breaks its plan: Protocols' Schema Configuration.

| Protocols setting (source → Schema Configuration)       | here (ProtocolsSettings)        |
|---------------------------------------------------------|---------------------------------|
| Track Calls : Unplanned Events: Block Event              | unplanned_events="block"        |
| Track Calls : Unplanned Properties: Omit Properties      | unplanned_properties="omit"     |
| Identify / Group Calls : Unplanned Traits: Omit Traits   | unplanned_traits="omit"         |
| Track / Identify / Group : JSON Schema Violations:       | violations="block" / "omit"     |
|   Block Event / Omit                                     |   (one setting for the three)   |

The default forwards everything, violations included, as Protocols does until blocking is
turned on. A forwarded message carries what Protocols adds, `context.protocols` with its
`violations` ([{type, field, description}]), `omitted` and `omitted_on_violation`; a blocked one
is not forwarded and its reason says why (the gateway lists it with the dropped messages).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from ..errors import ConfigError
from .model import PAYLOAD, PROTOCOLS_TYPE, Violation

Forward = Literal["forward"]
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

    def __post_init__(self) -> None:
        for name, allowed in (("unplanned_events", EVENT_ACTIONS),
                              ("unplanned_properties", PROPERTY_ACTIONS),
                              ("unplanned_traits", PROPERTY_ACTIONS),
                              ("violations", VIOLATION_ACTIONS)):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name} must be one of {', '.join(allowed)}, not "
                                  f"{getattr(self, name)!r}")


@dataclass(frozen=True)
class Verdict:
    """message: what is forwarded (None when blocked); blocked: why not."""

    message: dict[str, Any] | None
    blocked: str | None = None


def enforce(message: dict[str, Any], violations: Sequence[Violation],
            settings: ProtocolsSettings) -> Verdict:
    if not violations:
        return Verdict(message)
    kinds = {v.kind for v in violations}
    if "unplanned_event" in kinds and settings.unplanned_events == "block":
        return Verdict(None, f"unplanned event {message.get('event')!r} (unplanned events "
                             "are blocked)")
    schema_broken = [v for v in violations if v.kind in SCHEMA_KINDS]
    if schema_broken and settings.violations == "block":
        listed = "; ".join(v.message for v in schema_broken)
        return Verdict(None, f"JSON Schema violations are blocked: {listed}")
    forwarded = copy.deepcopy(message)
    section = PAYLOAD.get(str(message.get("type")), "properties")
    payload = forwarded.get(section)
    omitted: list[str] = []
    omitted_on_violation: list[str] = []
    if isinstance(payload, dict):
        unplanned_action = (settings.unplanned_traits if section == "traits"
                            else settings.unplanned_properties)
        for violation in violations:
            name = _top_name(violation.path, section)
            if name is None or name not in payload:
                continue
            if violation.kind == "unplanned_property" and unplanned_action == "omit":
                del payload[name]
                omitted.append(name)
            elif violation.kind in SCHEMA_KINDS and settings.violations == "omit":
                del payload[name]
                omitted_on_violation.append(name)
    context = forwarded.get("context")
    if not isinstance(context, dict):
        context = forwarded["context"] = {}
    protocols = context.get("protocols")
    protocols = dict(protocols) if isinstance(protocols, dict) else {}
    protocols["violations"] = [
        {"type": PROTOCOLS_TYPE[v.kind], "field": v.path, "description": v.message}
        for v in violations]
    if omitted:
        protocols["omitted"] = omitted
    if omitted_on_violation:
        protocols["omitted_on_violation"] = omitted_on_violation
    context["protocols"] = protocols
    return Verdict(forwarded)


def _top_name(path: str, section: str) -> str | None:
    prefix = f"{section}."
    if not path.startswith(prefix):
        return None
    return path[len(prefix):].split(".", 1)[0]
