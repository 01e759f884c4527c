"""Outages of the destination, as the delivery client sees them, told once each way.

An outage starts at the first failure that says the destination itself is in trouble (no
connection, a timeout, a 5xx) after it last answered, and ends at its next answer (any 2xx or
4xx). A 429 is the destination being busy, not down: it starts no outage. The client reports
every attempt; this keeps the state and logs a WARNING at each change, naming the URL, so a
wrong URL or a dead destination is visible at once, however long the retry budget.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from .errors import DeliveryError

log = logging.getLogger("connector.delivery")


class OutageWatch:
    def __init__(self, url: str, clock: Callable[[], float],
                 on_end: Callable[[float], None] | None = None) -> None:
        """on_end(seconds it lasted) reports an outage's end (the gateway adds how many
        messages wait); by default it is logged here."""
        self.url = url
        self._clock = clock  # monotonic seconds
        self.on_end = on_end if on_end is not None else self._ended
        self.started_at: float | None = None  # None: no outage now
        self.last_error: DeliveryError | None = None
        self.outages = 0  # how many have started

    @property
    def down(self) -> bool:
        return self.started_at is not None

    def failed(self, error: DeliveryError) -> None:
        if not error.retryable or error.status == 429:
            return
        self.last_error = error
        if self.started_at is None:
            self.started_at = self._clock()
            self.outages += 1
            log.warning("destination %s is failing (%s); retrying with backoff",
                              self.url, error)

    def answered(self) -> None:
        """Note an answer: it ends an outage, if there is one."""
        if self.started_at is None:
            return
        lasted = self._clock() - self.started_at
        self.started_at = None
        self.on_end(lasted)

    def _ended(self, lasted: float) -> None:
        log.warning("destination %s answers again after %.1f s", self.url, lasted)
