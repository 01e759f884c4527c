"""Query parameters: the names a route takes, and numbers; each failure an InvalidQueryParameter
that names the parameter."""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any

from .problems import InvalidQueryParameter

Handler = Callable[[Any], Awaitable[Any]]


def unknown_parameter(name: str, accepted: Collection[str]) -> InvalidQueryParameter:
    listed = ", ".join(sorted(accepted)) or "none"
    return InvalidQueryParameter(
        f"unknown query parameter {json.dumps(name)}; this route takes: {listed}",
        {"parameter": name, "accepted": sorted(accepted)},
    )


def check_names(query: Mapping[str, str], accepted: Collection[str]) -> None:
    """A name the route does not take is a 400: ignoring it would answer a question the caller
    did not ask (?user_id=u_1 would list every event)."""
    for name in query:
        if name not in accepted:
            raise unknown_parameter(name, accepted)


def accepts(*names: str) -> Callable[[Handler], Handler]:
    """Marks an aiohttp handler with the query parameters it takes; any other is a 400."""

    def mark(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def checked(request: Any) -> Any:
            check_names(request.query, names)
            return await handler(request)

        checked.accepted_query = frozenset(names)  # type: ignore[attr-defined]
        return checked

    return mark


def int_param(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidQueryParameter(f"{name} must be a whole number, not {raw!r}") from None
    if not low <= value <= high:
        raise InvalidQueryParameter(f"{name} must be between {low} and {high}, not {value}")
    return value


def seconds_param(query: Mapping[str, str], name: str, default: float, high: float) -> float:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidQueryParameter(f"{name} must be a number of seconds, not {raw!r}") from None
    if not 0 <= value <= high:  # NaN fails this too
        raise InvalidQueryParameter(f"{name} must be between 0 and {high:g} seconds, not {raw}")
    return value
