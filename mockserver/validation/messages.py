"""jsonschema's violation messages, written in JSON terms for clients that sent JSON.

jsonschema quotes values with Python's repr (`True is not of type 'number'`, `{'a': 1}`); a
client reads `true is not of type "number"` and `{"a": 1}`. The phrasing stays jsonschema's.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from jsonschema import ValidationError

REQUIRED_SUFFIX = " is a required property"


def as_json(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):  # NaN and the like cannot be JSON here: say what they are
        return repr(value)


def missing_property(error: ValidationError) -> str:
    """The property a `required` error is about (jsonschema only says it in its message)."""
    quoted = str(error.message).removesuffix(REQUIRED_SUFFIX)
    try:
        name = ast.literal_eval(quoted)
    except (ValueError, SyntaxError):
        return quoted
    return str(name)


def json_message(error: ValidationError) -> str:
    kind, instance = error.validator, error.instance
    expected: Any = error.validator_value
    if kind == "type":
        types = [expected] if isinstance(expected, str) else list(expected)
        return f"{as_json(instance)} is not of type {', '.join(as_json(t) for t in types)}"
    if kind == "required":
        return f"{as_json(missing_property(error))}{REQUIRED_SUFFIX}"
    if kind in ("minProperties", "minLength", "minItems") and expected == 1:
        return f"{as_json(instance)} should be non-empty"
    if kind == "additionalProperties" and expected is False and isinstance(instance, dict):
        known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        patterns = error.schema.get("patternProperties", {}) if isinstance(
            error.schema, dict) else {}
        extras = [key for key in instance
                  if key not in known and not any(re.search(p, key) for p in patterns)]
        verb = "was" if len(extras) == 1 else "were"
        return (f"Additional properties are not allowed "
                f"({', '.join(as_json(key) for key in extras)} {verb} unexpected)")
    message = str(error.message)
    shown = repr(instance)
    if message.startswith(shown):  # "<instance> is not ...", jsonschema's usual form
        message = as_json(instance) + message[len(shown):]
    if isinstance(expected, str | int | float | bool | list | dict) and repr(expected) in message:
        message = message.replace(repr(expected), as_json(expected))
    return message
