"""The outbox's tracking-plan violations (--tracking-plan): their table, counters and queries.

Kept in the same sqlite file and written in the same transaction as the message they belong to
(outbox_database.OutboxDatabase.accept), so a message and its violations are stored together or
not at all; a duplicate (deduplicated in its scope) adds none. Each row keeps the violation as
GET /_gateway/violations shows it, its filterable fields as columns (each behind an index), and
the SHA-256 hex of the write key it came with (`key_hash`, the writeKeyHash filter), never the
key itself.

Violations are history, not work: they are not pruned with delivered messages (the dashboard
and the pytest fixture read them after delivery); a gateway that checks a plan for a long time
grows by its violations, and an outbox file (or :memory:) per test session is the intended use.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any, Final

Json = dict[str, Any]

# Tracking-plan counters: GET /_gateway/stats shows them only when a plan is checked.
PLAN_COUNTERS: Final[tuple[str, ...]] = ("violations", "violatingMessages", "blocked",
                                         "unplannedProperties")
# GET /_gateway/violations' filters and the column each one matches exactly.
VIOLATION_FILTERS: Final[dict[str, str]] = {
    "messageId": "message_id", "type": "type", "event": "event", "kind": "kind",
    "writeKeyHash": "key_hash",
}
BLOCKED_REASON: Final = "blocked_by_tracking_plan"

VIOLATIONS_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS violations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT,
    type TEXT,
    event TEXT,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    key_hash TEXT
);
CREATE INDEX IF NOT EXISTS violations_by_id ON violations (message_id, seq);
CREATE INDEX IF NOT EXISTS violations_by_event ON violations (event, seq);
CREATE INDEX IF NOT EXISTS violations_by_kind ON violations (kind, seq);
CREATE INDEX IF NOT EXISTS violations_by_type ON violations (type, seq);
CREATE INDEX IF NOT EXISTS violations_by_key ON violations (key_hash, seq);
"""
INSERT_VIOLATION: Final = (
    "INSERT INTO violations (message_id, type, event, kind, key_hash, body) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)


def _encode(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def create(db: sqlite3.Connection) -> None:
    """The table and its indexes (idempotent; inside the caller's transaction)."""
    for statement in VIOLATIONS_SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)


def store(db: sqlite3.Connection, violations: Sequence[Json], key_hash: str | None) -> None:
    """One message's violations (inside the caller's transaction)."""
    db.executemany(INSERT_VIOLATION, [
        (v.get("messageId"), v.get("type"), v.get("event"), v["kind"], key_hash, _encode(v))
        for v in violations])


def page(db: sqlite3.Connection, filters: Mapping[str, Sequence[str]], limit: int,
         offset: int) -> tuple[int, list[Json]]:
    """(how many match, one page of them, oldest first). Filters are exact matches on the
    columns of VIOLATION_FILTERS; a filter with several values matches any of them (the
    dashboard asks for a page of messageIds at once)."""
    where = " AND ".join(
        f"{VIOLATION_FILTERS[name]} IN ({', '.join('?' * len(values))})"
        for name, values in filters.items())
    clause = f" WHERE {where}" if where else ""
    values = [value for given in filters.values() for value in given]
    total = int(db.execute(f"SELECT COUNT(*) FROM violations{clause}", values).fetchone()[0])
    rows = db.execute(f"SELECT body FROM violations{clause} ORDER BY seq LIMIT ? OFFSET ?",
                      [*values, limit, offset]).fetchall()
    return total, [json.loads(body) for (body,) in rows]
