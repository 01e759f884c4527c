"""The outbox's SQL: its schema and every statement, each named (outbox.py runs them); the
tracking-plan violations' table and statements are in outbox_violations.py.

Statements in HOT_STATEMENTS run per message or per request: each must be an index search,
never a scan (tests/unit/test_outbox.py checks their query plans).
"""

from __future__ import annotations

from typing import Final

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL,
    state TEXT NOT NULL,
    received_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    body TEXT NOT NULL,
    notes TEXT,
    token TEXT
);
CREATE INDEX IF NOT EXISTS messages_by_state ON messages (state, seq);
CREATE INDEX IF NOT EXISTS messages_by_age ON messages (state, updated_at);
CREATE INDEX IF NOT EXISTS messages_by_id ON messages (message_id, seq);
CREATE TABLE IF NOT EXISTS seen (
    scope TEXT NOT NULL,
    message_id TEXT NOT NULL,
    seen_at REAL NOT NULL,
    PRIMARY KEY (scope, message_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_by_time ON seen (seen_at);
CREATE TABLE IF NOT EXISTS dropped (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    received_at TEXT,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS dropped_by_id ON dropped (message_id, seq);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
"""

SEEN_AT: Final = "SELECT seen_at FROM seen WHERE scope = ? AND message_id = ?"
MARK_SEEN: Final = (
    "INSERT INTO seen (scope, message_id, seen_at) VALUES (?, ?, ?) "
    "ON CONFLICT (scope, message_id) DO UPDATE SET seen_at = excluded.seen_at"
)
PRUNE_SEEN: Final = (
    "DELETE FROM seen WHERE (scope, message_id) IN "
    "(SELECT scope, message_id FROM seen WHERE seen_at <= ? LIMIT ?)"
)
PRUNE_SETTLED: Final = (
    "DELETE FROM messages WHERE seq IN "
    "(SELECT seq FROM messages WHERE state = ? AND updated_at <= ? LIMIT ?)"
)
SEEN_KEPT: Final = "SELECT COUNT(*) FROM seen"
INSERT_MESSAGE: Final = (
    "INSERT INTO messages (message_id, state, received_at, updated_at, token, body) "
    "VALUES (?, 'pending', ?, ?, ?, ?)"
)
INSERT_DROPPED: Final = (
    "INSERT INTO dropped (message_id, reason, detail, received_at, body) VALUES (?, ?, ?, ?, ?)"
)
PRUNE_DROPPED: Final = "DELETE FROM dropped WHERE seq <= ?"
LAST_DROPPED: Final = "SELECT MAX(seq) FROM dropped"
PENDING: Final = (
    "SELECT seq, message_id, token, body FROM messages WHERE state = 'pending' "
    "ORDER BY seq LIMIT ?"
)
SETTLE: Final = (
    "UPDATE messages SET state = ?, error = ?, notes = ?, attempts = attempts + ?, "
    "updated_at = ? WHERE seq = ? AND state = 'pending'"
)
DEADLETTERS: Final = (
    "SELECT seq, message_id, received_at, updated_at, attempts, error, body, state, notes "
    "FROM messages WHERE state = 'deadletter' ORDER BY seq LIMIT ? OFFSET ?"
)
REDRIVE_ALL: Final = (
    "UPDATE messages SET state = 'pending', updated_at = ? WHERE state = 'deadletter'"
)
REDRIVE_ONE: Final = (
    "UPDATE messages SET state = 'pending', updated_at = ? "
    "WHERE message_id = ? AND state = 'deadletter'"
)
DROPPED_PAGE: Final = (
    "SELECT message_id, reason, detail, received_at, body FROM dropped "
    "ORDER BY seq DESC LIMIT ? OFFSET ?"
)
DROPPED_KEPT: Final = "SELECT COUNT(*) FROM dropped"
ACCEPTED_AFTER: Final = (  # keyset paging on the primary key: O(limit) per page
    "SELECT seq, body FROM messages WHERE seq > ? ORDER BY seq LIMIT ?"
)
MESSAGE_BY_ID: Final = (
    "SELECT seq, message_id, received_at, updated_at, attempts, error, body, state, notes "
    "FROM messages WHERE message_id = ? ORDER BY seq DESC LIMIT 1"
)
DROPPED_BY_ID: Final = (
    "SELECT message_id, reason, detail, received_at, body FROM dropped "
    "WHERE message_id = ? ORDER BY seq DESC LIMIT 1"
)
BUMP: Final = "UPDATE counters SET value = value + ? WHERE name = ?"
COUNTS: Final = "SELECT name, value FROM counters"

# Statements run per message or per request: each must be an index search, never a scan.
HOT_STATEMENTS: Final[dict[str, str]] = {
    "seen_at": SEEN_AT, "prune_seen": PRUNE_SEEN, "pending": PENDING, "settle": SETTLE,
    "accepted_after": ACCEPTED_AFTER, "redrive_one": REDRIVE_ONE,
    "message_by_id": MESSAGE_BY_ID, "dropped_by_id": DROPPED_BY_ID,
    "prune_dropped": PRUNE_DROPPED, "last_dropped": LAST_DROPPED, "bump": BUMP,
    "deadletters": DEADLETTERS, "redrive_all": REDRIVE_ALL, "prune_settled": PRUNE_SETTLED,
}
