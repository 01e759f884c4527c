"""Records events: the store, the journal that makes them durable, and waiters for new data.

The one place where writes happen, so the order is always: prepare → journal → apply → wake.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .journal import Journal, read_records
from .store import EventQuery, Prepared, Replay, Store
from .validation import Normalized, format_time


class Recorder:
    def __init__(self, store: Store, journal: Journal | None) -> None:
        self.store = store
        self._journal = journal
        self._waiters: dict[str, set[asyncio.Future[None]]] = {}
        # Commits still on their way to the journal, by (tenant, Idempotency-Key).
        self._in_flight: dict[tuple[str, str], asyncio.Future[None]] = {}

    @classmethod
    def open(cls, db: Path | None, rejected_kept: int, commit_window: float) -> Recorder:
        store = Store(rejected_kept)
        if db is None:
            return cls(store, None)
        for record in read_records(db):
            store.replay(record)
        return cls(store, Journal(db, commit_window))

    async def close(self) -> None:
        if self._journal is not None:
            await self._journal.close()

    async def record(
        self, tenant: str, items: list[tuple[Mapping[str, Any], Normalized]], key: str | None
    ) -> tuple[list[str], bool]:
        """Store `items` durably; return their ids and whether this was an idempotent replay."""
        if key is not None:
            # A retry of a request still being written must not be acknowledged before the
            # original is durable; if the original fails, its key is released and this one runs.
            while (pending := self._in_flight.get((tenant, key))) is not None:
                await asyncio.wait([pending])
        outcome = self.store.prepare(tenant, items, format_time(datetime.now(UTC)), key)
        if isinstance(outcome, Replay):
            return outcome.ids, True
        commit = asyncio.ensure_future(self._commit(outcome))
        if key is not None:
            self._in_flight[(tenant, key)] = commit
            commit.add_done_callback(lambda _: self._in_flight.pop((tenant, key), None))
        # Shielded: once the journal has the record, it must also be applied.
        await asyncio.shield(commit)
        return outcome.ids, False

    async def _commit(self, prepared: Prepared) -> None:
        if self._journal is not None:
            try:
                await self._journal.append(prepared.record())
            except BaseException:
                self.store.abort(prepared)
                raise
        self.store.apply(prepared)
        self._wake(prepared.tenant)

    async def reset(self, tenant: str) -> None:
        if self._journal is not None:
            await self._journal.append({"op": "reset", "t": tenant})
        self.store.reset(tenant)
        self._wake(tenant)

    def _wake(self, tenant: str) -> None:
        for future in self._waiters.pop(tenant, set()):
            if not future.done():
                future.set_result(None)

    async def wait_for_count(
        self, tenant: str, query: EventQuery, count: int, timeout: float
    ) -> bool:
        """Wait until at least `count` events match `query`, or `timeout` seconds pass."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.store.count(tenant, query) < count:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            future: asyncio.Future[None] = loop.create_future()
            self._waiters.setdefault(tenant, set()).add(future)
            try:
                await asyncio.wait_for(future, remaining)
            except TimeoutError:
                return self.store.count(tenant, query) >= count
            finally:
                self._waiters.get(tenant, set()).discard(future)
        return True
