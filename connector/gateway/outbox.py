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

Dedup: by messageId within a scope, for `dedup_window` seconds from the first time an id is
seen. The scope is the write key and the destination (Pointillist URL and token), as Segment's
dedup is per source: the same messageId sent with another write key, or through a gateway that
now delivers elsewhere (another mock, another tenant), is delivered. A messageId seen again in
its scope within the window is counted as deduplicated and stored nowhere, whatever happened to
the first one (accepted or dropped). With --token-per-write-key the write key is also the
destination's token, so the same scope is one Pointillist tenant per write key.

Tracking-plan violations (--tracking-plan) and what the message covers of the plan are stored
with their message, in the same transaction (outbox_violations.py, outbox_coverage.py);
`token` (--token-per-write-key) is kept beside a message's body, never in it, and the worker
delivers the message with it. The coverage table is created in any file that lacks it (no
version change: an older gateway ignores it).

Upgrades: a file of schema version 1 forgets its unscoped dedup ids (a message sent again may be
delivered again, which the destination's Idempotency-Key answers as a replay) and gains
messages.notes; a file of version 1 or 2 gains messages.token (empty: the gateway's own token)
and the violations table; the file is then version 3. A file of a newer version is refused.

Pruning: delivered and skipped messages leave the file once they have been settled for longer
than the dedup window (a bounded number per transaction, at each accept and settle), so the file
follows pending work, dead letters and the window, not all history. SQLite reuses freed pages:
the file stops growing rather than shrinking.

This module is the asynchronous face; the synchronous half that runs on the outbox's thread is
outbox_database.py, and its SQL outbox_sql.py.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from typing import TypeVar

from ..errors import OutboxError
from ..plans.coverage import Tally
from .outbox_coverage import COVERAGE_COUNTERS, Observation
from .outbox_database import (
    COUNTERS,
    AcceptResult,
    Json,
    OutboxDatabase,
    Outcome,
    PendingMessage,
    dedup_scope,
    open_database,
)
from .outbox_violations import PLAN_COUNTERS, VIOLATION_FILTERS
from .tracking import Entry

# What the rest of the gateway takes from here; the records are defined beside the database.
__all__ = ["COUNTERS", "COVERAGE_COUNTERS", "PLAN_COUNTERS", "VIOLATION_FILTERS", "AcceptResult",
           "Observation", "Outbox", "OutboxError", "Outcome", "PendingMessage", "Tally",
           "dedup_scope"]

T = TypeVar("T")


class Outbox:
    """The asynchronous face: each call runs on the outbox's own thread. After every write,
    `changed()`'s event is set (for server-side waits on the stats)."""

    def __init__(self, database: OutboxDatabase, executor: ThreadPoolExecutor) -> None:
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
                executor, partial(open_database, path, dedup_window, dropped_kept))
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

    async def accept(
        self, entries: Sequence[Entry], now: datetime, scope: str = "",
        violations: Mapping[int, Sequence[Json]] | None = None,
        token: str | None = None, key_hash: str | None = None,
        observed: Mapping[int, Observation] | None = None,
    ) -> AcceptResult:
        """Store one request's messages (dedup within `scope`, see dedup_scope; pending,
        dropped) durably, all or nothing. `violations[i]`: entries[i]'s tracking-plan
        violations, kept unless it is a duplicate; `token`: the Pointillist token to deliver
        them with (--token-per-write-key), kept beside the body, never shown; `key_hash`: the
        write key's hash, kept with the violations for their filter; `observed[i]`: what
        entries[i] covers of the plan, kept unless it is a duplicate."""
        result = await self._call(partial(
            self._db.accept, entries, now, scope, violations, token, key_hash, observed))
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

    async def count(self, **deltas: int) -> None:
        """Add to counters that no message carries (e.g. loneSurrogatesRefused=1)."""
        await self._call(partial(self._db.count, **deltas))
        self._notify()

    async def pending(self, limit: int) -> list[PendingMessage]:
        """The oldest pending messages, in the order they were accepted."""
        return await self._call(partial(self._db.pending, limit))

    async def stats(self) -> dict[str, int]:
        return await self._call(self._db.stats)

    async def plan_stats(self) -> dict[str, int]:
        return await self._call(self._db.plan_stats)

    async def violations(self, filters: Mapping[str, Sequence[str]], limit: int,
                         offset: int) -> tuple[int, list[Json]]:
        """(how many match, one page of them, oldest first); see outbox_violations.page."""
        return await self._call(partial(self._db.violations, filters, limit, offset))

    async def accepted(self, after: int, limit: int) -> tuple[list[Json], int | None]:
        """A page of the accepted messages kept (keyset: after a position); see the database."""
        return await self._call(partial(self._db.accepted, after, limit))

    async def coverage(self, key_hash: str | None) -> Tally:
        """What the accepted messages covered (all, or one write key's)."""
        return await self._call(partial(self._db.coverage, key_hash))

    async def reset_coverage(self, key_hash: str | None) -> int:
        result = await self._call(partial(self._db.reset_coverage, key_hash))
        self._notify()
        return result

    async def holds(self) -> dict[str, int]:
        return await self._call(self._db.holds)

    async def deadletters(self, limit: int, offset: int) -> list[Json]:
        return await self._call(partial(self._db.deadletters, limit, offset))

    async def dropped(self, limit: int, offset: int) -> tuple[int, list[Json]]:
        """(how many are kept, one page of them, newest first)."""
        return await self._call(partial(self._db.dropped, limit, offset))

    async def message(self, message_id: str) -> Json | None:
        return await self._call(partial(self._db.message, message_id))
