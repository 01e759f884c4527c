"""Connector settings: values only, validated when built, immutable afterwards."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

from .errors import ConfigError

DEFAULT_ACTOR_TYPE: Final = "Customer"


@dataclass(frozen=True, slots=True)
class MappingSettings:
    """The destination settings the mapping honours (contracts/mapping/README.md).

    actor_type: the Pointillist actor type the identifiers are filed under.
    map_page_screen: turn page/screen calls into "Viewed <name> Page|Screen" events instead of
    skipping them.
    """

    actor_type: str = DEFAULT_ACTOR_TYPE
    map_page_screen: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.actor_type, str) or not self.actor_type.strip():
            raise ConfigError(f"actor_type must be a non-blank string, not {self.actor_type!r}")
        if not isinstance(self.map_page_screen, bool):
            raise ConfigError(f"map_page_screen must be a bool, not {self.map_page_screen!r}")

    @classmethod
    def from_segment(cls, settings: Mapping[str, Any]) -> MappingSettings:
        """From Segment-style destination settings: {"actorType", "mapPageScreen"}."""
        unknown = sorted(set(settings) - {"actorType", "mapPageScreen"})
        if unknown:
            raise ConfigError(f"unknown destination settings: {', '.join(map(str, unknown))}")
        return cls(
            actor_type=settings.get("actorType", DEFAULT_ACTOR_TYPE),
            map_page_screen=settings.get("mapPageScreen", False),
        )


DEFAULT_MAPPING_SETTINGS: Final = MappingSettings()


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    """Where and how mapped events are delivered.

    url: the Pointillist base URL, e.g. https://stream.pointillist.com (events go to
    `{url}/event`); token: the `apiToken` header; concurrency: requests in flight at once;
    max_retries: retries after the first attempt of a retryable failure; backoff_base: ceiling
    of the first backoff in seconds, doubling per retry up to backoff_max; retry_after_max: a
    longer Retry-After is cut to this; timeout: one whole attempt, seconds; connect_timeout:
    seconds; batch: use the mock's batch extension (opt-in: the real API has no batch
    endpoint) with at most batch_size events per request.
    """

    url: str
    token: str = field(repr=False)  # a secret: never in a repr, a log or a traceback
    concurrency: int = 8
    max_retries: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 60.0
    timeout: float = 10.0
    connect_timeout: float = 5.0
    batch: bool = False
    batch_size: int = 100

    def __post_init__(self) -> None:
        parts = urlsplit(self.url) if isinstance(self.url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"url must be an http:// or https:// URL, not {self.url!r}")
        if not isinstance(self.token, str) or not self.token.strip():
            raise ConfigError("token must be a non-blank string")
        _check_int("concurrency", self.concurrency, minimum=1)
        _check_int("max_retries", self.max_retries, minimum=0)
        _check_int("batch_size", self.batch_size, minimum=1)
        _check_seconds("backoff_base", self.backoff_base, allow_zero=True)
        _check_seconds("backoff_max", self.backoff_max, allow_zero=True)
        _check_seconds("retry_after_max", self.retry_after_max, allow_zero=True)
        _check_seconds("timeout", self.timeout, allow_zero=False)
        _check_seconds("connect_timeout", self.connect_timeout, allow_zero=False)
        if not isinstance(self.batch, bool):
            raise ConfigError(f"batch must be a bool, not {self.batch!r}")

    @property
    def event_url(self) -> str:
        return self.url.rstrip("/") + "/event"


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, not {value!r}")


def _check_seconds(name: str, value: object, allow_zero: bool) -> None:
    ok = (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and math.isfinite(value)
        and (value >= 0 if allow_zero else value > 0)
    )
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(f"{name} must be a finite number of seconds {bound}, not {value!r}")
