"""Engage definitions against their one schema (definitions.schema.json), every problem worded.

jsonschema's own messages are Python reprs (`'x' is not of type 'object'`) and say nothing of
what was meant; the schema carries its wording instead (`x-expected`, `x-message`,
`x-required`, see its description), so the rules and their messages live in one file and a
problem reads `audiences[0] (VIP): within_days must be a number > 0, not 0`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from functools import cache
from importlib.resources import files
from typing import Any, Final, cast

from jsonschema import Draft202012Validator, ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import extend

from .conditions import is_number

SCHEMA_FILE: Final = "definitions.schema.json"
SECTIONS: Final = ("audiences", "computed_traits")
_SHOWN_CHARS: Final = 60
# Definitions are YAML as often as JSON: JSON Schema's "integer" accepts 2.0 and "number"
# accepts NaN and a bool is no number, while a count or a window must be a real int / a finite
# number (the simulator does arithmetic with them).
_TYPES: Final = Draft202012Validator.TYPE_CHECKER.redefine_many({
    "integer": lambda _checker, value: type(value) is int,
    "number": lambda _checker, value: is_number(value),
})
# types-jsonschema leaves `extend` unannotated; the result is a validator class like the draft's.
_DefinitionsValidator: Final = extend(  # type: ignore[no-untyped-call]
    Draft202012Validator, type_checker=_TYPES)


@cache
def schema() -> dict[str, Any]:
    """The definitions schema shipped in this package (read once, on first use)."""
    text = files("connector.engage").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    return cast(dict[str, Any], json.loads(text))


@cache
def _validator() -> Validator:
    return cast(Validator, _DefinitionsValidator(schema()))


def schema_problems(data: Any) -> list[str]:
    """Every way `data` breaks the schema, one sentence each naming where, in document order
    (an empty list: the document is well-formed)."""
    errors = sorted(_validator().iter_errors(data), key=lambda e: _order(e.absolute_path))
    return list(dict.fromkeys(_word(error, data) for error in errors))


def show(value: Any) -> str:
    """A value in JSON terms (true, null, {"a": 1}), shortened, for an error message."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):  # a YAML key JSON cannot write, a circular structure
        text = str(value)
    return text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "..."


def location(section: str, index: int, name: Any) -> str:
    """How a problem names a definition: `audiences[0] (Big Spenders)`, or without a usable
    name, `audiences[0]`."""
    where = f"{section}[{index}]"
    return f"{where} ({name})" if isinstance(name, str) and name.strip() else where


def _order(path: Iterable[Any]) -> tuple[tuple[int, int, str], ...]:
    """Document order for list items (audiences[2] before audiences[10]); keys by name."""
    return tuple((0, step, "") if isinstance(step, int) else (1, 0, str(step)) for step in path)


def _subject(path: Sequence[Any], data: Any) -> str:
    """What a problem is about: the definition (by position and name) and the field in it."""
    prefix, rest = "", list(path)
    if len(rest) >= 2 and rest[0] in SECTIONS and isinstance(rest[1], int):
        item = data[rest[0]][rest[1]]
        name = item.get("name") if isinstance(item, dict) else None
        prefix, rest = location(rest[0], rest[1], name), rest[2:]
    field = "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in rest)
    field = field.removeprefix(".")
    if prefix and field:
        return f"{prefix}: {field}"
    return prefix or field or "the definitions"


def _and(words: list[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    return " and ".join(filter(None, (", ".join(words[:-1]), words[-1])))


def _word(error: ValidationError, data: Any) -> str:
    rules = error.schema if isinstance(error.schema, dict) else {}
    subject = _subject(list(error.absolute_path), data)
    instance: Any = error.instance
    if error.validator == "additionalProperties":
        allowed = sorted(rules.get("properties", {}))
        unknown = sorted(str(key) for key in instance if key not in allowed)
        return (f"{subject}: unknown key(s) {', '.join(unknown)}; "
                f"allowed: {', '.join(allowed)}")
    if error.validator == "required":
        required = cast(list[str], error.validator_value)
        missing = _and([key for key in required if key not in instance])
        template = rules.get("x-required", "{subject}: missing {missing}")
        return str(template).format(subject=subject, missing=missing)
    if "x-message" in rules:
        return str(rules["x-message"]).format(subject=subject, value=show(instance))
    if "x-expected" in rules:
        return f"{subject} must be {rules['x-expected']}, not {show(instance)}"
    return f"{subject}: {error.message}"  # a rule the schema forgot to word; still located
