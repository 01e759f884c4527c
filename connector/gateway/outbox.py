"""The gateway's durable outbox: sqlite3 (standard library), one file, one owner.

- Durable before acknowledged: WAL journal with `synchronous=FULL`; `accept` writes a whole
  request in one transaction, so a request is stored entirely or not at all, and it returns
  only once the commit is on disk.
- One owner: the file is opened in EXCLUSIVE locking mode, so a second gateway on the same file
  fails at start ("in use") instead of delivering the same messages twice.
- Off the event loop: every statement runs in a single-thread executor that owns the
  connection, so statements never interleave and the loop never blocks on disk.
- Flat cost as it grows: every hot statement is an index search (see HOT_STATEMENTS and
  tests/unit/test_outbox.py); the counters behind GET /_gateway/stats are rows updated in the
  same transactions, never COUNT(*) scans; expired dedup entries and dropped messages beyond
  `dropped_kept` are pruned a bounded number at a time.

Message states: pending → delivered | skipped | deadletter, and deadletter → pending (re-drive).

Dedup: by messageId alone, across the whole gateway (every write key and route), for
`dedup_window` seconds from the first time an id is seen. Segment's own dedup is global too (not
per source or workspace). A messageId seen again within the window is counted as deduplicated
and stored nowhere, whatever happened to the first one (accepted or dropped). With
--token-per-write-key each write key is a destination of its own (its own Pointillist tenant),
so dedup is scoped to the write key there, as DESIGN.md scopes it per destination.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Final, Literal, TypeVar

from ..errors import OutboxError
from ..times import format_millis
from .tracking import Accepted, Dropped, Entry

T = TypeVar("T")
Json = dict[str, Any]
State = Literal["pending", "delivered", "skipped", "deadletter"]
Settled = Literal["delivered", "skipped", "deadletter"]

MEMORY: Final = ":memory:"
SCHEMA_VERSION: Final = 1
PRUNE_BATCH: Final = 1000  # expired dedup entries removed per transaction, at most
# Counter names, exactly as GET /_gateway/stats shows them. received = deduplicated + dropped +
# skipped + delivered + pending + deadLettered, always.
COUNTERS: Final[tuple[str, ...]] = (
    "received", "deduplicated", "dropped", "skipped", "delivered", "pending", "deadLettered",
)
# Tracking-plan counters (--tracking-plan): shown by GET /_gateway/stats only with a plan.
PLAN_COUNTERS: Final[tuple[str, ...]] = ("violations", "violatingMessages", "blocked")
VIOLATION_FILTERS: Final[dict[str, str]] = {
    "messageId": "message_id", "type": "type", "event": "event", "kind": "kind",
    "writeKeyHash": "key_hash",
}
INSERT_VIOLATION: Final = (
    "INSERT INTO violations (message_id, type, event, kind, key_hash, body) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
# Columns added after SCHEMA_VERSION 1 first shipped: added in place to an older file (SCHEMA
# has them, for a new one).
ADDED_COLUMNS: Final[tuple[tuple[str, str], ...]] = (
    ("messages", "token"), ("violations", "key_hash"),
)
STATE_COUNTER: Final[dict[str, str]] = {
    "pending": "pending", "delivered": "delivered", "skipped": "skipped",
    "deadletter": "deadLettered",
}

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
    token TEXT
);
CREATE INDEX IF NOT EXISTS messages_by_state ON messages (state, seq);
CREATE INDEX IF NOT EXISTS messages_by_id ON messages (message_id, seq);
CREATE TABLE IF NOT EXISTS seen (
    message_id TEXT PRIMARY KEY,
    seen_at REAL NOT NULL
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
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
"""

SEEN_AT: Final = "SELECT seen_at FROM seen WHERE message_id = ?"
MARK_SEEN: Final = (
    "INSERT INTO seen (message_id, seen_at) VALUES (?, ?) "
    "ON CONFLICT (message_id) DO UPDATE SET seen_at = excluded.seen_at"
)
PRUNE_SEEN: Final = (
    "DELETE FROM seen WHERE message_id IN "
    "(SELECT message_id FROM seen WHERE seen_at <= ? LIMIT ?)"
)
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
    "UPDATE messages SET state = ?, error = ?, attempts = attempts + ?, updated_at = ? "
    "WHERE seq = ? AND state = 'pending'"
)
DEADLETTERS: Final = (
    "SELECT seq, message_id, received_at, updated_at, attempts, error, body, state FROM messages "
    "WHERE state = 'deadletter' ORDER BY seq LIMIT ? OFFSET ?"
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
MESSAGE_BY_ID: Final = (
    "SELECT seq, message_id, received_at, updated_at, attempts, error, body, state "
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
    "redrive_one": REDRIVE_ONE, "message_by_id": MESSAGE_BY_ID, "dropped_by_id": DROPPED_BY_ID,
    "prune_dropped": PRUNE_DROPPED, "last_dropped": LAST_DROPPED, "bump": BUMP,
    "deadletters": DEADLETTERS, "redrive_all": REDRIVE_ALL,
}


@dataclass(frozen=True, slots=True)
class AcceptResult:
    stored: int  # new pending messages
    duplicates: int
    dropped: int


@dataclass(frozen=True, slots=True)
class PendingMessage:
    seq: int
    message_id: str
    message: Json
    token: str | None = None  # --token-per-write-key: the Pointillist token to deliver with


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of a pending message: error is {"code", "message", "details"} for a dead
    letter and the skip reason for a skipped message; attempts are the requests it took."""

    seq: int
    state: Settled
    error: Json | None = None
    attempts: int = 0


def _encode(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


class _Database:
    """The synchronous half: runs only on the executor's one thread."""

    def __init__(self, path: str, dedup_window: float, dropped_kept: int) -> None:
        self.dedup_window = dedup_window
        self.dropped_kept = dropped_kept
        self.db = sqlite3.connect(path, isolation_level=None, timeout=0)
        try:
            self._setup(path)
        except BaseException:
            self.db.close()
            raise

    def _setup(self, path: str) -> None:
        db = self.db
        if path != MEMORY:
            db.execute("PRAGMA locking_mode = EXCLUSIVE")
            mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise OutboxError(f"the outbox {path} cannot use a WAL journal (got {mode})")
        db.execute("PRAGMA synchronous = FULL")
        with self.transaction():
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                raise OutboxError(
                    f"the outbox {path} has schema version {version}; this gateway reads "
                    f"version {SCHEMA_VERSION}"
                )
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            for table, column in ADDED_COLUMNS:
                present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
                if column not in present:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT")
            db.execute("CREATE INDEX IF NOT EXISTS violations_by_key ON violations "
                       "(key_hash, seq)")
            db.executemany(
                "INSERT OR IGNORE INTO counters (name, value) VALUES (?, 0)",
                [(name,) for name in (*COUNTERS, *PLAN_COUNTERS)],
            )
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def transaction(self) -> _Transaction:
        return _Transaction(self.db)

    def close(self) -> None:
        self.db.close()

    # -- writing ---------------------------------------------------------------------------

    def accept(self, entries: Sequence[Entry], now: datetime,
               violations: Mapping[int, Sequence[Json]] | None = None,
               token: str | None = None, key_hash: str | None = None) -> AcceptResult:
        db = self.db
        # With a token of its own, a write key is its own destination: dedup is scoped to it.
        scope = f"{key_hash}:" if token is not None and key_hash else ""
        violations = violations or {}
        found = violating = blocked = 0
        moment = now.timestamp()
        stamp = format_millis(now)
        stored = duplicates = dropped = 0
        with self.transaction():
            db.execute(PRUNE_SEEN, (moment - self.dedup_window, PRUNE_BATCH))
            for index, entry in enumerate(entries):
                if entry.message_id is not None and self.dedup_window > 0:
                    seen = scope + entry.message_id
                    row = db.execute(SEEN_AT, (seen,)).fetchone()
                    if row is not None and moment - row[0] < self.dedup_window:
                        duplicates += 1
                        continue
                    db.execute(MARK_SEEN, (seen, moment))
                if isinstance(entry, Accepted):
                    received = str(entry.message.get("receivedAt", stamp))
                    db.execute(INSERT_MESSAGE, (entry.message_id, received, stamp, token,
                                                _encode(entry.message)))
                    stored += 1
                else:
                    self._drop(entry, stamp)
                    dropped += 1
                    blocked += entry.reason == "blocked_by_tracking_plan"
                kept = violations.get(index, ())
                db.executemany(INSERT_VIOLATION, [
                    (v.get("messageId"), v.get("type"), v.get("event"), v["kind"], key_hash,
                     _encode(v)) for v in kept])
                found += len(kept)
                violating += bool(kept)
            if dropped:
                last = db.execute(LAST_DROPPED).fetchone()[0]
                db.execute(PRUNE_DROPPED, (last - self.dropped_kept,))
            self._bump(received=len(entries), deduplicated=duplicates, dropped=dropped,
                       pending=stored, violations=found, violatingMessages=violating,
                       blocked=blocked)
        return AcceptResult(stored, duplicates, dropped)

    def _drop(self, entry: Dropped, stamp: str) -> None:
        message = entry.message
        received = message.get("receivedAt", stamp) if isinstance(message, dict) else stamp
        self.db.execute(INSERT_DROPPED, (entry.message_id, entry.reason, entry.detail,
                                         str(received), _encode(message)))

    def settle(self, outcomes: Sequence[Outcome], now: datetime) -> int:
        stamp = format_millis(now)
        moved = dict.fromkeys(STATE_COUNTER.values(), 0)
        with self.transaction():
            for outcome in outcomes:
                error = None if outcome.error is None else _encode(outcome.error)
                cursor = self.db.execute(
                    SETTLE, (outcome.state, error, outcome.attempts, stamp, outcome.seq))
                if cursor.rowcount:
                    moved[STATE_COUNTER[outcome.state]] += 1
                    moved["pending"] -= 1
            self._bump(**moved)
        return sum(v for k, v in moved.items() if k != "pending")

    def redrive(self, message_ids: Sequence[str] | None, now: datetime) -> tuple[int, list[str]]:
        stamp = format_millis(now)
        missing: list[str] = []
        with self.transaction():
            if message_ids is None:
                count = self.db.execute(REDRIVE_ALL, (stamp,)).rowcount
            else:
                count = 0
                for message_id in dict.fromkeys(message_ids):
                    done = self.db.execute(REDRIVE_ONE, (stamp, message_id)).rowcount
                    if done:
                        count += done
                    else:
                        missing.append(message_id)
            self._bump(deadLettered=-count, pending=count)
        return count, missing

    def _bump(self, **deltas: int) -> None:
        self.db.executemany(BUMP, [(delta, name) for name, delta in deltas.items() if delta])

    # -- reading ---------------------------------------------------------------------------

    def pending(self, limit: int) -> list[PendingMessage]:
        rows = self.db.execute(PENDING, (limit,)).fetchall()
        return [PendingMessage(seq, message_id, json.loads(body), token)
                for seq, message_id, token, body in rows]

    def stats(self) -> dict[str, int]:
        counts = dict(self.db.execute(COUNTS).fetchall())
        return {name: int(counts.get(name, 0)) for name in COUNTERS}

    def plan_stats(self) -> dict[str, int]:
        counts = dict(self.db.execute(COUNTS).fetchall())
        return {name: int(counts.get(name, 0)) for name in PLAN_COUNTERS}

    def violations(self, filters: Mapping[str, Sequence[str]], limit: int,
                   offset: int) -> tuple[int, list[Json]]:
        """(how many match, one page of them, oldest first). Filters are exact matches; a
        filter with several values matches any of them (the dashboard asks for a page of
        messageIds at once)."""
        where = " AND ".join(
            f"{VIOLATION_FILTERS[name]} IN ({', '.join('?' * len(values))})"
            for name, values in filters.items())
        clause = f" WHERE {where}" if where else ""
        values = [value for given in filters.values() for value in given]
        total = int(self.db.execute(
            f"SELECT COUNT(*) FROM violations{clause}", values).fetchone()[0])
        rows = self.db.execute(f"SELECT body FROM violations{clause} ORDER BY seq LIMIT ? "
                               "OFFSET ?", [*values, limit, offset]).fetchall()
        return total, [json.loads(body) for (body,) in rows]

    def deadletters(self, limit: int, offset: int) -> list[Json]:
        rows = self.db.execute(DEADLETTERS, (limit, offset)).fetchall()
        return [_message_row(*row) for row in rows]

    def dropped(self, limit: int, offset: int) -> tuple[int, list[Json]]:
        kept = int(self.db.execute(DROPPED_KEPT).fetchone()[0])
        rows = self.db.execute(DROPPED_PAGE, (limit, offset)).fetchall()
        return kept, [_dropped_row(*row) for row in rows]

    def message(self, message_id: str) -> Json | None:
        row = self.db.execute(MESSAGE_BY_ID, (message_id,)).fetchone()
        if row is not None:
            return _message_row(*row)
        row = self.db.execute(DROPPED_BY_ID, (message_id,)).fetchone()
        if row is not None:
            return {"state": "dropped", **_dropped_row(*row)}
        return None


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error: a request is all or nothing."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        if kind is None:
            self.db.execute("COMMIT")
        elif self.db.in_transaction:
            self.db.execute("ROLLBACK")


def _message_row(
    seq: int, message_id: str, received_at: str, updated_at: str, attempts: int,
    error: str | None, body: str, state: str,
) -> Json:
    return {
        "messageId": message_id, "state": state, "receivedAt": received_at,
        "updatedAt": updated_at, "attempts": attempts,
        "error": None if error is None else json.loads(error), "message": json.loads(body),
    }


def _dropped_row(
    message_id: str | None, reason: str, detail: str, received_at: str | None, body: str
) -> Json:
    return {"messageId": message_id, "reason": reason, "detail": detail,
            "receivedAt": received_at, "message": json.loads(body)}


class Outbox:
    """The asynchronous face: each call runs on the outbox's own thread. After every write,
    `changed()`'s event is set (for server-side waits on the stats)."""

    def __init__(self, database: _Database, executor: ThreadPoolExecutor) -> None:
        self._db = database
        self._executor = executor
        self._changed = asyncio.Event()
        self._closed = False

    @classmethod
    async def open(cls, path: str, dedup_window: float, dropped_kept: int) -> Outbox:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gateway-outbox")
        loop = asyncio.get_running_loop()
        try:
            database = await loop.run_in_executor(
                executor, partial(_open, path, dedup_window, dropped_kept))
        except BaseException:
            executor.shutdown(wait=True)
            raise
        return cls(database, executor)

    async def close(self) -> None:
        """Close the file (idempotent); later calls fail with OutboxError."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._db.close)
        finally:
            self._executor.shutdown(wait=True)

    async def _call(self, function: Callable[[], T]) -> T:
        if self._closed:
            raise OutboxError("the outbox is closed")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, function)
        except sqlite3.Error as exc:
            raise OutboxError(f"the outbox failed: {exc}") from exc

    def changed(self) -> asyncio.Event:
        """An event set at the next write (take it before reading, then wait on it)."""
        return self._changed

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def accept(self, entries: Sequence[Entry], now: datetime,
                     violations: Mapping[int, Sequence[Json]] | None = None,
                     token: str | None = None, key_hash: str | None = None) -> AcceptResult:
        """Store one request's messages (dedup, pending, dropped) durably, all or nothing;
        `violations[i]`: entries[i]'s tracking-plan violations, kept unless it is a duplicate.
        `token`: the Pointillist token to deliver them with, kept beside the body (never shown);
        `key_hash`: the write key's hash, kept with the violations for their filter."""
        result = await self._call(
            partial(self._db.accept, entries, now, violations, token, key_hash))
        self._notify()
        return result

    async def settle(self, outcomes: Sequence[Outcome], now: datetime) -> int:
        """Move pending messages to their final state; returns how many moved."""
        moved = await self._call(partial(self._db.settle, outcomes, now))
        self._notify()
        return moved

    async def redrive(
        self, message_ids: Sequence[str] | None, now: datetime
    ) -> tuple[int, list[str]]:
        """Dead letters back to pending (all, or those ids); returns (moved, ids not found)."""
        result = await self._call(partial(self._db.redrive, message_ids, now))
        self._notify()
        return result

    async def pending(self, limit: int) -> list[PendingMessage]:
        """The oldest pending messages, in the order they were accepted."""
        return await self._call(partial(self._db.pending, limit))

    async def stats(self) -> dict[str, int]:
        return await self._call(self._db.stats)

    async def plan_stats(self) -> dict[str, int]:
        return await self._call(self._db.plan_stats)

    async def violations(self, filters: Mapping[str, Sequence[str]], limit: int,
                         offset: int) -> tuple[int, list[Json]]:
        return await self._call(partial(self._db.violations, filters, limit, offset))

    async def deadletters(self, limit: int, offset: int) -> list[Json]:
        return await self._call(partial(self._db.deadletters, limit, offset))

    async def dropped(self, limit: int, offset: int) -> tuple[int, list[Json]]:
        """(how many are kept, one page of them, newest first)."""
        return await self._call(partial(self._db.dropped, limit, offset))

    async def message(self, message_id: str) -> Json | None:
        return await self._call(partial(self._db.message, message_id))


def _open(path: str, dedup_window: float, dropped_kept: int) -> _Database:
    try:
        return _Database(path, dedup_window, dropped_kept)
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise OutboxError(
                f"the outbox {path} is in use by another gateway (one file, one gateway)"
            ) from exc
        raise OutboxError(f"the outbox {path} cannot be opened: {exc}") from exc
    except sqlite3.Error as exc:
        raise OutboxError(f"the outbox {path} cannot be opened: {exc}") from exc
