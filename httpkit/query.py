"""Query parameters as numbers, each failure an InvalidQuery that names the parameter."""

from __future__ import annotations

from collections.abc import Mapping

from .problems import InvalidQuery


def int_param(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidQuery(f"{name} must be a whole number, not {raw!r}") from None
    if not low <= value <= high:
        raise InvalidQuery(f"{name} must be between {low} and {high}, not {value}")
    return value


def seconds_param(query: Mapping[str, str], name: str, default: float, high: float) -> float:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidQuery(f"{name} must be a number of seconds, not {raw!r}") from None
    if not 0 <= value <= high:  # NaN fails this too
        raise InvalidQuery(f"{name} must be between 0 and {high:g} seconds, not {raw}")
    return value
