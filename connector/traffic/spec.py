"""What a traffic run is asked for: the scenario's size, its seed and its first instant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

Message = dict[str, Any]

DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class TrafficSpec:
    """What to generate: ``users`` shoppers over ``days`` days from ``start`` (UTC)."""

    seed: int
    users: int
    days: int
    start: datetime = DEFAULT_START

    def __post_init__(self) -> None:
        if self.users < 0:
            raise ValueError("users must be >= 0")
        if self.days < 1:
            raise ValueError("days must be >= 1")
        if self.start.tzinfo is None:
            raise ValueError("start must be timezone-aware")


def parse_start(text: str) -> datetime:
    """An ISO-8601 instant (``2026-01-01T00:00:00Z``); without an offset it is taken as UTC."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
