"""`where` filters of Engage event rules, and the JSON value comparisons they rest on.

Values come from YAML/JSON definitions and from Segment message properties, so equality is
JSON's (a bool is not a number, 1 equals 1.0), not Python's (where True == 1).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeGuard

Operator = Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "exists"]

OPERATORS: Final[tuple[str, ...]] = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "exists")


@dataclass(frozen=True, slots=True)
class Condition:
    """One property test of a `where` filter: `{prop: value}` is eq (a list: in), or
    `{prop: {gte: 100, lt: 500}}` with eq, ne, gt, gte, lt, lte, in, exists (true/false).

    eq/ne/in compare JSON values (a bool never equals a number); gt/gte/lt/lte hold only for two
    finite numbers or two strings; a missing or null property fails every test but `ne`, `exists:
    false` and a comparison with null.
    """

    prop: str
    op: Operator
    value: Any

    def matches(self, properties: Mapping[str, Any]) -> bool:
        present = self.prop in properties and properties[self.prop] is not None
        actual = properties.get(self.prop)
        if self.op == "exists":
            return present is bool(self.value)
        if self.op == "eq":
            return same_value(actual, self.value)
        if self.op == "ne":
            return not same_value(actual, self.value)
        if self.op == "in":
            return any(same_value(actual, option) for option in self.value)
        if not present:
            return False
        both_numbers = is_number(actual) and is_number(self.value)
        if not both_numbers and not (isinstance(actual, str) and isinstance(self.value, str)):
            return False
        if self.op == "gt":
            return bool(actual > self.value)
        if self.op == "gte":
            return bool(actual >= self.value)
        if self.op == "lt":
            return bool(actual < self.value)
        return bool(actual <= self.value)


def is_number(value: object) -> TypeGuard[int | float]:
    return (type(value) is int) or (type(value) is float and math.isfinite(value))


def same_value(a: object, b: object) -> bool:
    """JSON equality: 1 == 1.0, but True is not 1 and "1" is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if is_number(a) and is_number(b):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b
