"""The outbox's synchronous half: the sqlite3 connection, its schema and every transaction.

It runs only on the outbox's own thread (outbox.py, `Outbox`, is the asynchronous face and
describes the guarantees: durability, one owner, dedup scope, pruning); the SQL is in
outbox_sql.py, the tracking-plan violations' in outbox_violations.py. The records it returns
(`AcceptResult`, `PendingMessage`, `Outcome`) are what the gateway's worker and handlers see.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

from ..errors import OutboxError
from ..plans.coverage import Tally
from ..times import format_millis
from . import outbox_coverage as coverage_rows
from . import outbox_violations as violation_rows
from .outbox_coverage import Observation
from .outbox_sql import (
    ACCEPTED_AFTER,
    BUMP,
    COUNTS,
    DEADLETTERS,
    DROPPED_BY_ID,
    DROPPED_KEPT,
    DROPPED_PAGE,
    INSERT_DROPPED,
    INSERT_MESSAGE,
    LAST_DROPPED,
    MARK_SEEN,
    MESSAGE_BY_ID,
    PENDING,
    PRUNE_DROPPED,
    PRUNE_SEEN,
    PRUNE_SETTLED,
    REDRIVE_ALL,
    REDRIVE_ONE,
    SCHEMA,
    SEEN_AT,
    SEEN_KEPT,
    SETTLE,
)
from .outbox_violations import BLOCKED_REASON, PLAN_COUNTERS
from .tracking import Accepted, Dropped, Entry

Json = dict[str, Any]
State = Literal["pending", "delivered", "skipped", "deadletter"]
Settled = Literal["delivered", "skipped", "deadletter"]

MEMORY: Final = ":memory:"
# 2: dedup scoped (seen.scope), messages.notes; 3: messages.token, the violations table.
SCHEMA_VERSION: Final = 3
PRUNE_BATCH: Final = 1000  # expired dedup entries removed per transaction, at most
# Counter names, exactly as GET /_gateway/stats shows them. received = deduplicated + dropped +
# skipped + delivered + pending + deadLettered, always.
COUNTERS: Final[tuple[str, ...]] = (
    "received", "deduplicated", "dropped", "skipped", "delivered", "pending", "deadLettered",
    "labelsLeftOut",  # delivered messages with a label left out (not part of the sum above)
    "loneSurrogatesRefused",  # requests refused (400) for a lone surrogate: none was received
)
STATE_COUNTER: Final[dict[str, str]] = {
    "pending": "pending", "delivered": "delivered", "skipped": "skipped",
    "deadletter": "deadLettered",
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
    notes: Json | None = None  # e.g. {"labelsLeftOut": [...]} for a delivered message


def dedup_scope(write_key: str, url: str, token: str) -> str:
    """The dedup scope of a write key and a destination: a digest (the token is a secret)."""
    joined = "\n".join((write_key, url.rstrip("/"), token))
    return hashlib.sha256(joined.encode()).hexdigest()[:32]



def _encode(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


class OutboxDatabase:
    """The synchronous half: runs only on the executor's one thread."""

    def __init__(self, path: str, dedup_window: float, dropped_kept: int) -> None:
        self.path = path
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
            if version == 1:
                self._upgrade_from_1()
            if version in (1, 2):
                self._upgrade_to_3()
            elif version not in (0, SCHEMA_VERSION):
                raise OutboxError(
                    f"the outbox {path} has schema version {version}; this gateway reads "
                    f"version {SCHEMA_VERSION}"
                )
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            violation_rows.create(db)
            coverage_rows.create(db)
            db.executemany(
                "INSERT OR IGNORE INTO counters (name, value) VALUES (?, 0)",
                [(name,) for name in (*COUNTERS, *PLAN_COUNTERS)],
            )
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _upgrade_from_1(self) -> None:
        # Version 1 remembered ids unscoped: forgetting them can only deliver a message again,
        # which the destination's Idempotency-Key still answers as a replay.
        self.db.execute("DROP TABLE IF EXISTS seen")
        self._add_column("messages", "notes")

    def _upgrade_to_3(self) -> None:
        # Version 3 adds messages.token (NULL: delivered with the gateway's own token, as every
        # message of an older file was) and the violations table (created with the schema).
        # A violations table without key_hash (written while it was being added) gains it:
        # its rows filter by writeKeyHash as messages sent without a key.
        self._add_column("messages", "token")
        if self._columns("violations"):
            self._add_column("violations", "key_hash")

    def _columns(self, table: str) -> set[str]:
        return {row[1] for row in self.db.execute(f"PRAGMA table_info({table})")}

    def _add_column(self, table: str, column: str) -> None:
        if column not in self._columns(table):
            self.db.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT")

    def transaction(self) -> _Transaction:
        return _Transaction(self.db)

    def close(self) -> None:
        self.db.close()

    # -- writing ---------------------------------------------------------------------------

    def accept(self, entries: Sequence[Entry], now: datetime, scope: str,
               violations: Mapping[int, Sequence[Json]] | None = None,
               token: str | None = None, key_hash: str | None = None,
               observed: Mapping[int, Observation] | None = None) -> AcceptResult:
        db = self.db
        observed = observed or {}
        violations = violations or {}
        moment = now.timestamp()
        stamp = format_millis(now)
        stored = duplicates = dropped = found = violating = blocked = unplanned = 0
        with self.transaction():
            db.execute(PRUNE_SEEN, (moment - self.dedup_window, PRUNE_BATCH))
            self._prune_settled(now)
            for index, entry in enumerate(entries):
                if entry.message_id is not None and self.dedup_window > 0:
                    row = db.execute(SEEN_AT, (scope, entry.message_id)).fetchone()
                    if row is not None and moment - row[0] < self.dedup_window:
                        duplicates += 1
                        continue
                    db.execute(MARK_SEEN, (scope, entry.message_id, moment))
                if isinstance(entry, Accepted):
                    received = str(entry.message.get("receivedAt", stamp))
                    db.execute(INSERT_MESSAGE, (entry.message_id, received, stamp, token,
                                                _encode(entry.message)))
                    stored += 1
                else:
                    self._drop(entry, stamp)
                    dropped += 1
                    blocked += entry.reason == BLOCKED_REASON
                kept = violations.get(index, ())
                violation_rows.store(db, kept, key_hash)
                if index in observed:
                    coverage_rows.store(db, observed[index], key_hash)
                counted = sum(1 for row in kept if row.get("violation", True))
                found += counted
                unplanned += len(kept) - counted
                violating += bool(counted)
            if dropped:
                last = db.execute(LAST_DROPPED).fetchone()[0]
                db.execute(PRUNE_DROPPED, (last - self.dropped_kept,))
            self._bump(received=len(entries), deduplicated=duplicates, dropped=dropped,
                       pending=stored, violations=found, violatingMessages=violating,
                       blocked=blocked, unplannedProperties=unplanned)
        return AcceptResult(stored, duplicates, dropped)

    def _drop(self, entry: Dropped, stamp: str) -> None:
        message = entry.message
        received = message.get("receivedAt", stamp) if isinstance(message, dict) else stamp
        self.db.execute(INSERT_DROPPED, (entry.message_id, entry.reason, entry.detail,
                                         str(received), _encode(message)))

    def settle(self, outcomes: Sequence[Outcome], now: datetime) -> int:
        stamp = format_millis(now)
        moved = dict.fromkeys(STATE_COUNTER.values(), 0)
        left_out = 0
        with self.transaction():
            for outcome in outcomes:
                error = None if outcome.error is None else _encode(outcome.error)
                notes = None if outcome.notes is None else _encode(outcome.notes)
                cursor = self.db.execute(
                    SETTLE, (outcome.state, error, notes, outcome.attempts, stamp, outcome.seq))
                if cursor.rowcount:
                    moved[STATE_COUNTER[outcome.state]] += 1
                    moved["pending"] -= 1
                    left_out += bool(outcome.notes and outcome.notes.get("labelsLeftOut"))
            self._bump(**moved, labelsLeftOut=left_out)
            self._prune_settled(now)
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

    def _prune_settled(self, now: datetime) -> None:
        cutoff = format_millis(datetime.fromtimestamp(now.timestamp() - self.dedup_window, UTC))
        for state in ("delivered", "skipped"):
            self.db.execute(PRUNE_SETTLED, (state, cutoff, PRUNE_BATCH))

    def count(self, **deltas: int) -> None:
        """Counters of what never became a message (a refused request), in their own
        transaction: kept in the file with the others, so they survive a restart alike."""
        with self.transaction():
            self._bump(**deltas)

    def _bump(self, **deltas: int) -> None:
        self.db.executemany(BUMP, [(delta, name) for name, delta in deltas.items() if delta])

    # -- reading ---------------------------------------------------------------------------

    def pending(self, limit: int) -> list[PendingMessage]:
        rows = self.db.execute(PENDING, (limit,)).fetchall()
        return [PendingMessage(seq, message_id, json.loads(body), token)
                for seq, message_id, token, body in rows]

    def holds(self) -> dict[str, int]:
        """What the file holds (for the start line): counters plus the dedup ids kept."""
        stats = self.stats()
        return {"pending": stats["pending"], "deadLettered": stats["deadLettered"],
                "dedupIds": int(self.db.execute(SEEN_KEPT).fetchone()[0])}

    def stats(self) -> dict[str, int]:
        counts = dict(self.db.execute(COUNTS).fetchall())
        return {name: int(counts.get(name, 0)) for name in COUNTERS}

    def plan_stats(self) -> dict[str, int]:
        counts = dict(self.db.execute(COUNTS).fetchall())
        return {name: int(counts.get(name, 0)) for name in PLAN_COUNTERS}

    def violations(self, filters: Mapping[str, Sequence[str]], limit: int,
                   offset: int) -> tuple[int, list[Json]]:
        return violation_rows.page(self.db, filters, limit, offset)

    def accepted(self, after: int, limit: int) -> tuple[list[Json], int | None]:
        """Accepted messages kept (any state) after position `after`, oldest first, and the
        position to ask from next (None: no more)."""
        rows = self.db.execute(ACCEPTED_AFTER, (after, limit)).fetchall()
        more = len(rows) == limit and limit > 0
        return [json.loads(body) for _, body in rows], rows[-1][0] if more else None

    def coverage(self, key_hash: str | None) -> Tally:
        return coverage_rows.read(self.db, key_hash)

    def reset_coverage(self, key_hash: str | None) -> int:
        with self.transaction():
            return coverage_rows.reset(self.db, key_hash)

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
    error: str | None, body: str, state: str, notes: str | None,
) -> Json:
    record = {
        "messageId": message_id, "state": state, "receivedAt": received_at,
        "updatedAt": updated_at, "attempts": attempts,
        "error": None if error is None else json.loads(error), "message": json.loads(body),
    }
    if notes is not None:
        record.update(json.loads(notes))
    return record


def _dropped_row(
    message_id: str | None, reason: str, detail: str, received_at: str | None, body: str
) -> Json:
    return {"messageId": message_id, "reason": reason, "detail": detail,
            "receivedAt": received_at, "message": json.loads(body)}



def open_database(path: str, dedup_window: float, dropped_kept: int) -> OutboxDatabase:
    try:
        return OutboxDatabase(path, dedup_window, dropped_kept)
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise OutboxError(
                f"the outbox {path} is in use by another gateway (one file, one gateway)"
            ) from exc
        raise OutboxError(f"the outbox {path} cannot be opened: {exc}") from exc
    except sqlite3.Error as exc:
        raise OutboxError(f"the outbox {path} cannot be opened: {exc}") from exc
