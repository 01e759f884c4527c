"""The outbox's tracking-plan coverage (--tracking-plan): what the accepted messages covered.

One row per planned item, planned path and write key: `seen` counts the messages (path '')
and the messages that had that path. Written in the same transaction as the message (a
duplicate adds nothing); the table follows the plan's size times the write keys, never the
traffic (an upsert per observed path). `writeKeyHash` scopes a read as it does violations; a
message sent without a key is kept under ''. DELETE /_gateway/coverage empties it (all, or one
key's), so "since a reset" is one call; a fresh outbox (:memory:, the pytest fixture) starts
empty, as its violations do. The report itself (rows, totals) is connector/plans/coverage.py's.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Sequence
from typing import Final

from ..plans.coverage import ItemId, Tally

Observation = tuple[ItemId, Sequence[str]]
# GET /_gateway/stats' coverage figures (with a plan), computed from this table and the plan.
COVERAGE_COUNTERS: Final[tuple[str, ...]] = ("eventsSeen", "eventsPlanned", "propertiesSeen",
                                             "propertiesPlanned")

COVERAGE_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS coverage (
    item TEXT NOT NULL,
    path TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    seen INTEGER NOT NULL,
    PRIMARY KEY (key_hash, item, path)
) WITHOUT ROWID
"""
UPSERT: Final = (
    "INSERT INTO coverage (item, path, key_hash, seen) VALUES (?, ?, ?, 1) "
    "ON CONFLICT (key_hash, item, path) DO UPDATE SET seen = seen + 1"
)


def create(db: sqlite3.Connection) -> None:
    db.execute(COVERAGE_SCHEMA)


def store(db: sqlite3.Connection, observation: Observation, key_hash: str | None) -> None:
    """One message's observation (inside the caller's transaction): O(its planned paths)."""
    item, paths = observation
    encoded = json.dumps(list(item), ensure_ascii=False)
    db.executemany(UPSERT, [(encoded, path, key_hash or "") for path in ["", *paths]])


def read(db: sqlite3.Connection, key_hash: str | None) -> Tally:
    """Everything (summed over keys) or one key's: O(rows), the plan's size times the keys."""
    if key_hash is None:
        rows = db.execute("SELECT item, path, SUM(seen) FROM coverage GROUP BY item, path")
    else:
        rows = db.execute("SELECT item, path, seen FROM coverage WHERE key_hash = ?",
                          (key_hash,))
    tally = Tally()
    for encoded, path, seen in rows.fetchall():
        kind, key, version = json.loads(encoded)
        item: ItemId = (kind, key, version)
        if path:
            tally.paths.setdefault(item, Counter())[path] += int(seen)
        else:
            tally.messages[item] += int(seen)
    return tally


def reset(db: sqlite3.Connection, key_hash: str | None) -> int:
    """Forget what was covered (all, or one key's); returns the rows removed."""
    if key_hash is None:
        return db.execute("DELETE FROM coverage").rowcount
    return db.execute("DELETE FROM coverage WHERE key_hash = ?", (key_hash,)).rowcount
