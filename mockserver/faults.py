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
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from .errors import FaultRuleLimit, InvalidFaultRule

KINDS: Final = ("status", "latency", "reset", "truncate", "delayVisibility")
STATUSES: Final = (429, 500, 502, 503, 504)
RETRY_AFTER_FORMATS: Final = ("seconds", "date")
BLOCKING: Final = ("status", "reset")

MAX_RULES: Final = 1000  # per tenant, until cleared
MAX_TIMES: Final = 1_000_000_000
MAX_DURATION_SECONDS: Final = 86_400.0
MAX_LATENCY_MS: Final = 60_000.0
MAX_VISIBILITY_MS: Final = 600_000.0
MAX_RETRY_AFTER: Final = 86_400
MAX_SEED: Final = 2**53 - 1

COMMON: Final = ("kind", "times", "durationSeconds", "probability", "seed")
FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "status": (*COMMON, "status", "retryAfter", "retryAfterFormat"),
    "latency": (*COMMON, "ms", "jitterMs"),
    "reset": COMMON,
    "truncate": COMMON,
    "delayVisibility": (*COMMON, "ms"),
}
REQUIRED: Final[dict[str, tuple[str, ...]]] = {
    "status": ("status",), "latency": ("ms",), "delayVisibility": ("ms",),
}

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

    def _rules_of(self, tenant: str) -> list[Rule]:
        """The tenant's rules (spent ones included: each knows whether it is active)."""
        return self._tenants.get(tenant, [])


# -- validation ---------------------------------------------------------------------------------


def parse_rule(body: Any) -> RuleSpec:
    """A rule body checked field by field; every problem is reported at once (400)."""
    if not isinstance(body, Mapping):
        _fail([("$", "a fault rule is a JSON object, e.g. "
                     '{"kind": "status", "status": 503, "times": 5}')])
    kind = body.get("kind")
    if kind not in KINDS:
        shown = "missing" if "kind" not in body else f"{kind!r} is not a kind"
        _fail([("$.kind", f"{shown}; use one of {', '.join(KINDS)}")])
    problems: list[tuple[str, str]] = []
    allowed = FIELDS[kind]
    for name in body:
        if name not in allowed:
            problems.append((f"$.{name}", f"not a field of a {kind} rule; its fields are "
                                          f"{', '.join(allowed)}"))
    for name in REQUIRED.get(kind, ()):
        if name not in body:
            problems.append((f"$.{name}", f"a {kind} rule needs {name}"))
    given: Json = {"kind": kind}
    values: Json = {}

    def take(name: str, check: Any, *args: Any) -> None:
        if name not in body or name not in allowed:
            return
        value, problem = check(body[name], *args)
        if problem is not None:
            problems.append((f"$.{name}", problem))
        else:
            given[name] = values[name] = value

    if kind == "status":
        take("status", _status)
        take("retryAfter", _integer, 0, MAX_RETRY_AFTER, "seconds")
        take("retryAfterFormat", _choice, RETRY_AFTER_FORMATS)
        if "retryAfterFormat" in given and "retryAfter" not in body:
            problems.append(("$.retryAfterFormat", "needs retryAfter (the seconds to wait)"))
    elif kind == "latency":
        take("ms", _number, 0.0, MAX_LATENCY_MS, "milliseconds", False)
        take("jitterMs", _number, 0.0, MAX_LATENCY_MS, "milliseconds", False)
    elif kind == "delayVisibility":
        take("ms", _number, 0.0, MAX_VISIBILITY_MS, "milliseconds", False)
    take("times", _integer, 1, MAX_TIMES, "requests")
    take("durationSeconds", _number, 0.0, MAX_DURATION_SECONDS, "seconds", True)
    take("probability", _number, 0.0, 1.0, "(a probability)", False)
    take("seed", _integer, 0, MAX_SEED, "")
    if problems:
        _fail(problems)
    return RuleSpec(
        kind=kind, given=given, status=values.get("status", 0),
        retry_after=values.get("retryAfter"),
        retry_after_date=values.get("retryAfterFormat") == "date",
        ms=float(values.get("ms", 0.0)), jitter_ms=float(values.get("jitterMs", 0.0)),
        times=values.get("times"), duration_seconds=values.get("durationSeconds"),
        probability=float(values.get("probability", 1.0)), seed=values.get("seed", 0),
    )


def _fail(problems: list[tuple[str, str]]) -> None:
    first_path, first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    raise InvalidFaultRule(
        f"the fault rule is invalid: {first_path}: {first}{more}",
        {"violations": [{"path": path, "message": message} for path, message in problems]},
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _integer(value: Any, low: int, high: int, unit: str) -> tuple[int, str | None]:
    """A whole number as JSON Schema counts it (5.0 is one) between low and high."""
    if not _is_number(value) or not math.isfinite(value) or value != int(value):
        return 0, f"must be a whole number from {low} to {high}, not {value!r}"
    number = int(value)
    if not low <= number <= high:
        return 0, f"must be from {low} to {high}{' ' + unit if unit else ''}, not {number}"
    return number, None


def _number(value: Any, low: float, high: float, unit: str,
            exclusive_low: bool) -> tuple[float, str | None]:
    bound = f"more than {low:g}" if exclusive_low else f"from {low:g}"
    wanted = f"must be a number {bound} to {high:g} {unit}".rstrip()
    if not _is_number(value) or not math.isfinite(value):
        return 0.0, f"{wanted}, not {value!r}"
    too_low = value <= low if exclusive_low else value < low
    if too_low or value > high:
        return 0.0, f"{wanted}, not {value!r}"
    return value, None


def _status(value: Any) -> tuple[int, str | None]:
    number, problem = _integer(value, 0, 999, "")
    if problem is None and number in STATUSES:
        return number, None
    return 0, (f"{value!r} is not a status a fault can answer; use one of "
               f"{', '.join(map(str, STATUSES))}")


def _choice(value: Any, choices: tuple[str, ...]) -> tuple[str, str | None]:
    if isinstance(value, str) and value in choices:
        return value, None
    return "", f"must be one of {', '.join(choices)}, not {value!r}"
