"""Time as integer microseconds since the Unix epoch, and the instant formats clients write.

Integers rather than datetimes inside the scenario: sums and truncations to milliseconds are
exact, so the same seed gives the same bytes on every platform.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ..times import format_millis

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MS = 1_000  # microseconds
SECOND = 1_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR


def epoch_us(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def iso_z(us: int) -> str:
    """``2026-01-01T10:00:00.123Z``: milliseconds, truncated."""
    return format_millis(EPOCH + timedelta(microseconds=us))


def iso_offset_ms(us: int) -> str:
    """``2026-01-01T10:00:00.123+00:00``, as analytics-python writes ``timestamp``."""
    return (EPOCH + timedelta(microseconds=us)).isoformat(timespec="milliseconds")


def iso_offset(us: int) -> str:
    """``2026-01-01T10:00:00.123456+00:00``, as analytics-python writes ``sentAt``."""
    return (EPOCH + timedelta(microseconds=us)).isoformat()
