"""Connector settings: values only, validated when built, immutable afterwards."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

from .errors import ConfigError

DEFAULT_ACTOR_TYPE: Final = "Customer"
# Retry budgets, seconds. A command line waits a couple of minutes at most; the gateway has an
# outbox precisely so that a busy or briefly-down destination loses nothing: it keeps trying
# for 12 hours, as analytics-python's backoff does.
SEND_RETRY_FOR: Final = 120.0
GATEWAY_RETRY_FOR: Final = 12 * 60 * 60.0
SEND_UNREACHABLE_AFTER: Final = 3.0


@dataclass(frozen=True, slots=True)
class MappingSettings:
    """The destination settings the mapping honours (contracts/mapping/README.md).

    actor_type: the Pointillist actor type the identifiers are filed under.
    map_page_screen: turn page/screen calls into "Viewed <name> Page|Screen" events instead of
    skipping them.
    max_label_length: mirror a destination whose label values are limited (the mock's
    --max-label-length). None (the default): no limit, as the mock's default admits any value a
    32 KB Segment message can carry. With a limit, a label value longer than it is left out of
    the event (never cut: a cut value would pass for the real one) and its key reported in
    `Mapped.labels_left_out`; the rest of the event is delivered.
    """

    actor_type: str = DEFAULT_ACTOR_TYPE
    map_page_screen: bool = False
    max_label_length: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.actor_type, str) or not self.actor_type.strip():
            raise ConfigError(f"actor_type must be a non-blank string, not {self.actor_type!r}")
        if not isinstance(self.map_page_screen, bool):
            raise ConfigError(f"map_page_screen must be a bool, not {self.map_page_screen!r}")
        if self.max_label_length is not None:
            _check_int("max_label_length", self.max_label_length, minimum=1)

    @classmethod
    def from_segment(cls, settings: Mapping[str, Any]) -> MappingSettings:
        """From Segment-style destination settings: {"actorType", "mapPageScreen",
        "maxLabelLength"}."""
        unknown = sorted(set(settings) - {"actorType", "mapPageScreen", "maxLabelLength"})
        if unknown:
            raise ConfigError(f"unknown destination settings: {', '.join(map(str, unknown))}")
        return cls(
            actor_type=settings.get("actorType", DEFAULT_ACTOR_TYPE),
            map_page_screen=settings.get("mapPageScreen", False),
            max_label_length=settings.get("maxLabelLength"),
        )


DEFAULT_MAPPING_SETTINGS: Final = MappingSettings()


# Delivery requests in flight at once. make bench, per-event POST /event from a full outbox to a
# durable mock on one core: 8 in flight delivered 3,599 events/s, 32 gave 5,198.
DEFAULT_CONCURRENCY: Final = 32

@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    """Where and how mapped events are delivered.

    url: the Pointillist base URL, e.g. https://stream.pointillist.com (events go to
    `{url}/event`); token: the `apiToken` header; concurrency: requests in flight at once;
    retry_for: the time budget, in seconds, within which a retryable failure (408, 429, 5xx but
    501/505, connection errors, timeouts) is tried again; no retry starts after it has passed.
    max_retries: an optional cap on backoff retries within that budget (None: the budget alone
    decides); a retry that waits a server's Retry-After is not counted. backoff_base: ceiling of
    the first backoff in seconds, doubling per retry up to backoff_max (full jitter: the wait is
    uniform between 0 and that ceiling); retry_after_max: a longer Retry-After is cut to this;
    unreachable_after: when no request has ever been answered and connections keep failing for
    this long, every delivery stops at once (`send` fails fast; None: only the budget counts);
    timeout: one whole attempt, seconds; connect_timeout: seconds; batch: use the mock's batch
    extension (opt-in: the real API has no batch endpoint) with at most batch_size events per
    request.
    """

    url: str
    token: str = field(repr=False)  # a secret: never in a repr, a log or a traceback
    concurrency: int = DEFAULT_CONCURRENCY
    retry_for: float = SEND_RETRY_FOR
    max_retries: int | None = None
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 60.0
    unreachable_after: float | None = None
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
        if self.max_retries is not None:
            _check_int("max_retries", self.max_retries, minimum=0)
        _check_seconds("retry_for", self.retry_for, allow_zero=True)
        if self.unreachable_after is not None:
            _check_seconds("unreachable_after", self.unreachable_after, allow_zero=False)
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
