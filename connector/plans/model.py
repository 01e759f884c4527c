"""What a loaded tracking plan is, and what checking a message against it finds.

A plan is a set of rules, each a JSON Schema (draft-07, as Protocols') of the *whole* message,
keyed by call type, event (or page/screen) name and version; plus at most one common rule that
every message meets. Whatever form the plan came in (loading.py), it ends up as this.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

from jsonschema.protocols import Validator

CallType = Literal["track", "identify", "group", "page", "screen"]
CALL_TYPES: Final[tuple[CallType, ...]] = ("track", "identify", "group", "page", "screen")
KEYED: Final[frozenset[str]] = frozenset({"track", "page", "screen"})  # rules per name
# Where each call type keeps what a plan lists: properties, or traits.
PAYLOAD: Final[dict[str, str]] = {
    "track": "properties", "page": "properties", "screen": "properties",
    "identify": "traits", "group": "traits",
}

ViolationKind = Literal[
    "unplanned_event", "unplanned_property", "required", "invalid_type", "invalid_value",
]
KINDS: Final[tuple[ViolationKind, ...]] = (
    "unplanned_event", "unplanned_property", "required", "invalid_type", "invalid_value",
)
# Protocols' own names (its violationType / context.protocols.violations[].type).
PROTOCOLS_TYPE: Final[dict[str, str]] = {
    "unplanned_event": "Unplanned Event", "unplanned_property": "Unplanned Property",
    "required": "Required", "invalid_type": "Invalid Type", "invalid_value": "Invalid Value",
}


@dataclass(frozen=True)
class Rule:
    """One rule: `schema` is a JSON Schema of the whole message (made safe: schemas.py). `key`
    is the event, page or screen name (None for identify, group and the common rule).
    `planned` / `patterns`: the property (or trait) names and name patterns the rule lists; a
    rule that lists none plans none (Protocols: "everything is considered to be unplanned")."""

    type: CallType | Literal["common"]
    key: str | None
    version: int
    schema: dict[str, Any]
    planned: frozenset[str]
    where: str  # where the rule was written, for messages
    validator: Validator = field(compare=False, repr=False)
    patterns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    """`rules[(type, key)]`: that event's rules, oldest version first."""

    name: str
    rules: dict[tuple[str, str | None], tuple[Rule, ...]]
    common: Rule | None

    def rule_for(self, call_type: str, key: str | None, version: Any) -> Rule | None:
        """The rule a message meets, as Protocols picks it: the version named by
        context.protocols.event_version when the plan has it, else the oldest one."""
        versions = self.rules.get((call_type, key if call_type in KEYED else None))
        if not versions:
            return None
        if isinstance(version, int) and not isinstance(version, bool):
            for rule in versions:
                if rule.version == version:
                    return rule
        return versions[0]

    def plans_events(self) -> bool:
        return any(call_type == "track" for call_type, _ in self.rules)


@dataclass(frozen=True)
class Violation:
    """One way a message breaks its plan. path: where, in Protocols' dotted form
    (`properties.products.0.price`; empty for the event itself). message: what a developer
    can act on."""

    message_id: str | None
    type: str | None
    event: str | None
    kind: ViolationKind
    path: str
    message: str
    version: int | None = None
    rule: Literal["event", "common"] = "event"

    def as_dict(self) -> dict[str, Any]:
        return {
            "messageId": self.message_id, "type": self.type, "event": self.event,
            "kind": self.kind, "violationType": PROTOCOLS_TYPE[self.kind], "path": self.path,
            "message": self.message, "version": self.version, "rule": self.rule,
        }
