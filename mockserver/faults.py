"""Fault rules: the mock misbehaving on demand, per tenant. Pure: no I/O, no aiohttp, and the
time is passed in by the caller (seconds on a monotonic clock).

A rule is one kind of misbehaviour with a budget: the next `times` requests, a window of
`durationSeconds` from when it was added, and/or a `probability` drawn from the rule's own
`random.Random(seed)`, so a run with the same requests in the same order replays exactly.
Kinds (wire names):

- status           answer `status` (429, 500, 502, 503, 504) before storing anything, with
                   `Retry-After: retryAfter` in seconds or, with retryAfterFormat "date", as an
                   HTTP date that many seconds from now;
- latency          wait `ms` (plus a uniform random 0..`jitterMs`) before handling the request;
- reset            read the request, then drop the connection (TCP reset) before any
                   answer; nothing is stored;
- truncate         store the event(s), then cut the response off in the middle of its body;
- delayVisibility  store and acknowledge, but show the event(s) only `ms` later.

How rules combine on one request (a rule draws a number, and counts as fired, only when its
group is reached, so the same requests in the same order always meet the same faults):
1. as the request arrives, every latency rule that fires adds its delay;
2. then the first status or reset rule (in the order added) that fires answers it;
3. otherwise the request is read and validated (an invalid one is answered as usual, untouched
   by the faults); a valid one is stored, and the first truncate rule that fires cuts its
   answer, the first delayVisibility rule that fires hides what it stored. An idempotent
   replay stores nothing, so it has nothing to hide, but its answer can be cut.

A rule stays listed (with `active: false`) once its budget is spent, until the tenant's rules
are cleared; ids go on counting after a clear.

A rule body is checked against the FaultRule schema of contracts/mock-admin-openapi.yaml, the one
description of the format (fields, bounds, choices); this module only words its verdict.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any, Final, NoReturn

from jsonschema import Draft202012Validator, ValidationError

from mockserver.errors import FaultRuleLimit, InvalidFaultRule
from mockserver.validation.schemas import component, with_refs

BLOCKING: Final = ("status", "reset")
MAX_RULES: Final = 1000  # per tenant, until cleared

ADMIN_SPEC: Final = "mock-admin-openapi.yaml"
RULE_SCHEMA: Final = "FaultRule"  # a oneOf with one branch per kind, told apart by `kind`
# Words for the messages only: every bound and choice is the contract's.
UNITS: Final = {"times": "requests", "durationSeconds": "seconds", "retryAfter": "seconds",
                "ms": "milliseconds", "jitterMs": "milliseconds",
                "probability": "(a probability)"}

Json = dict[str, Any]


@dataclass(frozen=True)
class RuleSpec:
    """A validated rule body. `given` holds the fields as sent (numbers normalized)."""

    kind: str
    given: Json
    status: int = 0
    retry_after: int | None = None
    retry_after_date: bool = False
    ms: float = 0.0
    jitter_ms: float = 0.0
    times: int | None = None
    duration_seconds: float | None = None
    probability: float = 1.0
    seed: int = 0


@dataclass
class Rule:
    id: str
    spec: RuleSpec
    added_at: float
    rng: random.Random
    considered: int = 0  # requests it was asked about while active
    fired: int = 0

    def active(self, now: float) -> bool:
        spec = self.spec
        if spec.times is not None and self.fired >= spec.times:
            return False
        return spec.duration_seconds is None or now < self.added_at + spec.duration_seconds

    def fires(self, now: float) -> bool:
        """Ask this rule about one request: draw, and count it when it fires."""
        if not self.active(now):
            return False
        self.considered += 1
        probability = self.spec.probability
        if probability < 1.0 and not self.rng.random() < probability:
            return False
        self.fired += 1
        return True

    def view(self, now: float) -> Json:
        return {"id": self.id, **self.spec.given, "fired": self.fired,
                "considered": self.considered, "active": self.active(now)}


@dataclass(frozen=True)
class Block:
    """The request is answered by the fault: a status (with Retry-After) or a reset."""

    rule_id: str
    kind: str
    status: int = 0
    retry_after: int | None = None
    retry_after_date: bool = False


@dataclass(frozen=True)
class Arrival:
    """What the faults do to a request as it arrives: delay it, and maybe answer it."""

    latency_seconds: float = 0.0
    block: Block | None = None


@dataclass(frozen=True)
class Storing:
    """What the faults do to a valid request being stored: cut its answer, hide what it stored."""

    truncate_rule: str | None = None  # the id of the truncate rule that fired
    hide_seconds: float = 0.0


UNTOUCHED: Final = Arrival()
STORED_AS_USUAL: Final = Storing()


class FaultBook:
    """Every tenant's fault rules. Reads never create a tenant."""

    def __init__(self, max_rules: int = MAX_RULES) -> None:
        self._max_rules = max_rules
        self._tenants: dict[str, list[Rule]] = {}
        self._next_id: dict[str, int] = {}

    def add(self, tenant: str, body: Any, now: float) -> Json:
        """Validate `body`, add it as a rule; return the rule as listed (with its id)."""
        spec = parse_rule(body)
        rules = self._tenants.setdefault(tenant, [])
        if len(rules) >= self._max_rules:
            raise FaultRuleLimit(
                f"this tenant already has {len(rules)} fault rules, the limit; clear them with "
                "DELETE /_mock/faults", {"limitRules": self._max_rules})
        number = self._next_id.get(tenant, 1)
        self._next_id[tenant] = number + 1
        rule = Rule(f"flt_{number}", spec, now, random.Random(spec.seed))
        rules.append(rule)
        return rule.view(now)

    def rules(self, tenant: str, now: float) -> list[Json]:
        return [rule.view(now) for rule in self._rules_of(tenant)]

    def clear(self, tenant: str) -> int:
        """Remove every rule of the tenant; return how many there were."""
        return len(self._tenants.pop(tenant, []))

    def on_arrival(self, tenant: str, now: float) -> Arrival:
        """Groups 1 and 2: latency, then the first status or reset rule that fires."""
        rules = self._rules_of(tenant)
        if not rules:
            return UNTOUCHED
        latency = sum(
            (rule.spec.ms + rule.rng.uniform(0.0, rule.spec.jitter_ms)) / 1000.0
            for rule in rules if rule.spec.kind == "latency" and rule.fires(now))
        for rule in rules:
            if rule.spec.kind in BLOCKING and rule.fires(now):
                spec = rule.spec
                return Arrival(latency, Block(rule.id, spec.kind, spec.status, spec.retry_after,
                                              spec.retry_after_date))
        return Arrival(latency)

    def on_storing(self, tenant: str, now: float) -> Storing:
        """Group 3, once the request is known to be valid: truncate, delayVisibility."""
        rules = self._rules_of(tenant)
        if not rules:
            return STORED_AS_USUAL
        truncate = next((rule.id for rule in rules
                         if rule.spec.kind == "truncate" and rule.fires(now)), None)
        hide = next((rule.spec.ms / 1000.0 for rule in rules
                     if rule.spec.kind == "delayVisibility" and rule.fires(now)), 0.0)
        return Storing(truncate, hide)

    def any_for(self, tenant: str) -> bool:
        """Whether the tenant has rules (spent ones included): without, a request skips the
        look-ups (and the clock) altogether. O(1)."""
        return bool(self._tenants.get(tenant))

    def _rules_of(self, tenant: str) -> list[Rule]:
        """The tenant's rules (spent ones included: each knows whether it is active)."""
        return self._tenants.get(tenant, [])


# -- validation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Kind:
    """One branch of FaultRule: the fields a rule of this kind takes, in the contract's order."""

    name: str
    branch: int  # its index in FaultRule's oneOf
    schema: Json
    fields: dict[str, Json]  # name -> schema, $refs resolved


@cache
def _contract() -> tuple[Draft202012Validator, dict[str, _Kind]]:
    """The FaultRule validator, and its branches by the `kind` each one's const asks for."""
    kinds: dict[str, _Kind] = {}
    for index, ref in enumerate(component(ADMIN_SPEC, RULE_SCHEMA)["oneOf"]):
        schema = _resolved(ref)
        fields = {name: _resolved(field) for name, field in schema["properties"].items()}
        kind = fields["kind"]["const"]
        kinds[kind] = _Kind(kind, index, schema, fields)
    return Draft202012Validator(with_refs(ADMIN_SPEC, RULE_SCHEMA)), kinds


def _resolved(schema: Json) -> Json:
    ref = schema.get("$ref")
    return schema if ref is None else component(ADMIN_SPEC, ref.rsplit("/", 1)[-1])


def parse_rule(body: Any) -> RuleSpec:
    """A rule body checked against the contract; every problem is reported at once (400)."""
    validator, kinds = _contract()
    if not isinstance(body, dict):
        _fail([("$", "a fault rule is a JSON object, e.g. "
                     '{"kind": "status", "status": 503, "times": 5}')])
    kind = body.get("kind")
    if not isinstance(kind, str) or kind not in kinds:
        shown = "missing" if "kind" not in body else f"{_shown(kind)} is not a kind"
        _fail([("$.kind", f"{shown}; use one of {', '.join(kinds)}")])
    rule = kinds[kind]
    errors = [sub for error in validator.iter_errors(body) for sub in error.context or ()
              if sub.relative_schema_path[0] == rule.branch]
    # NaN is no JSON value, so no schema can refuse it, and it passes every bound (any comparison
    # with it is false); only a caller in Python can send it (request bodies are strict JSON).
    not_a_number = [name for name, value in body.items()
                    if name in rule.fields and isinstance(value, float) and math.isnan(value)]
    if errors or not_a_number:
        _fail(_problems(body, rule, errors, not_a_number))
    given = {name: _normalized(body[name], schema)
             for name, schema in rule.fields.items() if name in body}
    return RuleSpec(
        kind=kind, given=given, status=given.get("status", 0),
        retry_after=given.get("retryAfter"),
        retry_after_date=given.get("retryAfterFormat") == "date",
        ms=float(given.get("ms", 0.0)), jitter_ms=float(given.get("jitterMs", 0.0)),
        times=given.get("times"), duration_seconds=given.get("durationSeconds"),
        probability=float(given.get("probability", 1.0)), seed=given.get("seed", 0),
    )


def _normalized(value: Any, schema: Json) -> Any:
    """Whole numbers as JSON Schema counts them (5.0 is one) become ints: listed as 5."""
    if schema.get("type") == "integer":
        return int(value)
    if "enum" in schema:  # the contract's own member: 502.0 is listed as 502
        return next(member for member in schema["enum"] if member == value)
    return value


def _problems(body: Json, rule: _Kind, errors: Iterable[ValidationError],
              not_a_number: list[str]) -> list[tuple[str, str]]:
    """The schema's verdict in words, each problem at its field: fields the kind does not take
    first (in the order sent), then the others in the contract's order."""
    order = list(rule.fields)
    found: list[tuple[int, str, str]] = []  # (position, field, message)
    failed: dict[str, set[str]] = {name: {"nan"} for name in not_a_number}
    for error in errors:
        if error.validator == "additionalProperties":
            fields = ", ".join(order)
            found += [(-1, name, f"not a field of a {rule.name} rule; its fields are {fields}")
                      for name in body if name not in rule.fields]
        elif error.validator == "required":
            found += [(order.index(name), name, f"a {rule.name} rule needs {name}")
                      for name in rule.schema["required"] if name not in body]
        elif error.validator == "dependentRequired":
            found += [(order.index(name), name,
                       f"needs {needed}: a {rule.name} rule takes {name} only with {needed}")
                      for name, needs in rule.schema["dependentRequired"].items() if name in body
                      for needed in needs if needed not in body]
        else:  # a keyword of one field's own schema (type, enum, minimum, ...)
            failed.setdefault(str(error.path[0]), set()).add(str(error.validator))
    for name, keywords in failed.items():
        message = _field_problem(body[name], rule.fields[name], keywords, UNITS.get(name, ""))
        found.append((order.index(name), name, message))
    found.sort(key=lambda problem: problem[0])  # stable: extra fields keep the order sent
    return [(f"$.{name}", message) for _, name, message in found]


def _field_problem(value: Any, schema: Json, failed: set[str], unit: str) -> str:
    """What one field must be, in the contract's terms, and what it was."""
    if "enum" in schema:
        choices = ", ".join(str(member) for member in schema["enum"])  # names, like the kinds
        return f"must be one of {choices}, not {_shown(value)}"
    bounds = _bounds(schema)
    if schema.get("type") == "integer":
        if "type" in failed:
            return _words("must be a whole number", bounds) + f", not {_shown(value)}"
        return _words("must be", bounds, unit) + f", not {_shown(int(value))}"
    return _words("must be a number", bounds, unit) + f", not {_shown(value)}"


def _bounds(schema: Json) -> str:
    """"from 0 to 1", "more than 0 to 86400": the range a number field takes."""
    low = ""
    if "minimum" in schema:
        low = f"from {_shown(schema['minimum'])}"
    elif "exclusiveMinimum" in schema:
        low = f"more than {_shown(schema['exclusiveMinimum'])}"
    high = f"to {_shown(schema['maximum'])}" if "maximum" in schema else ""
    if high and not low:
        high = f"at most {_shown(schema['maximum'])}"
    return _words(low, high)


def _words(*parts: str) -> str:
    return " ".join(part for part in parts if part)


def _shown(value: Any) -> str:
    """A value as JSON writes it (true, "503", {"a": 1}), not as Python does."""
    return json.dumps(value, ensure_ascii=False, default=repr)


def _fail(problems: list[tuple[str, str]]) -> NoReturn:
    first_path, first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    raise InvalidFaultRule(
        f"the fault rule is invalid: {first_path}: {first}{more}",
        {"violations": [{"path": path, "message": message} for path, message in problems]},
    )
