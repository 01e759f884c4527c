"""Records events: the store, the journal that makes them durable, and waiters for new data.

The one place where writes happen, so the order is always: prepare → journal → apply → wake
(waiters, then listeners such as the live feed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .actor_views import public
from .journal import Journal, read_records
from .store import EventQuery, Prepared, Rejected, Replay, Store
from .times import now_text
from .validation import Normalized
from .waits import WaitBook, Waiter

# Told of every change as it becomes visible: (tenant, kind, data), kind "stored" (data: the
# stored record as GET /_mock/events lists it), "rejected" (as /_mock/rejected) or "reset".
Listener = Callable[[str, str, Mapping[str, Any]], None]


class Recorder:
    def __init__(self, store: Store, journal: Journal | None) -> None:
        self.store = store
        self._journal = journal
        self.waits = WaitBook()
        # Commits still on their way to the journal, by (tenant, Idempotency-Key).
        self._in_flight: dict[tuple[str, str], asyncio.Future[None]] = {}
        # Durable writes whose visibility a delayVisibility fault put off, by tenant.
        self._hidden: dict[str, set[asyncio.TimerHandle]] = {}
        self._listeners: list[Listener] = []

    @classmethod
    def open(cls, db: Path | None, rejected_kept: int, commit_window: float) -> Recorder:
        store = Store(rejected_kept)
        if db is None:
            return cls(store, None)
        for record in read_records(db):
            store.replay(record)
        return cls(store, Journal(db, commit_window))

    async def close(self) -> None:
        for handles in self._hidden.values():
            for handle in handles:  # already durable: a restart on the same store shows them
                handle.cancel()
        self._hidden.clear()
        if self._journal is not None:
            await self._journal.close()

    async def record(
        self, tenant: str, items: list[tuple[Mapping[str, Any], Normalized]], key: str | None,
        hide_seconds: float = 0.0,
    ) -> tuple[list[str], bool]:
        """Store `items` durably; return their ids and whether this was an idempotent replay.

        With `hide_seconds`, the items are durable (and their key taken) when this returns, but
        the inspection API shows them only that much later."""
        if key is not None:
            # A retry of a request still being written must not be acknowledged before the
            # original is durable; if the original fails, its key is released and this one runs.
            while (pending := self._in_flight.get((tenant, key))) is not None:
                await asyncio.wait([pending])
        outcome = self.store.prepare(tenant, items, now_text(), key)
        if isinstance(outcome, Replay):
            return outcome.ids, True
        commit = asyncio.ensure_future(self._commit(outcome, hide_seconds))
        if key is not None:
            self._in_flight[(tenant, key)] = commit
            commit.add_done_callback(lambda _: self._in_flight.pop((tenant, key), None))
        # Shielded: once the journal has the record, it must also be applied.
        await asyncio.shield(commit)
        return outcome.ids, False

    async def _commit(self, prepared: Prepared, hide_seconds: float = 0.0) -> None:
        if self._journal is not None:
            try:
                await self._journal.append(prepared.record())
            except BaseException:
                self.store.abort(prepared)
                raise
        if hide_seconds > 0:
            self._show_later(prepared, hide_seconds)
        else:
            self._show(prepared)

    def _show(self, prepared: Prepared) -> None:
        graph_before = self.store.merges(prepared.tenant)
        self.store.apply(prepared)
        tenant = prepared.tenant
        linked = self.store.merges(tenant) != graph_before
        self.waits.applied(tenant, prepared.docs, self.store.graph(tenant), linked,
                           lambda query: self.store.count(tenant, query))
        for doc in prepared.docs:
            self._notify(prepared.tenant, "stored", public(doc))

    def listen(self, listener: Listener) -> None:
        """Call `listener` after each write is applied, each rejection and each reset."""
        self._listeners.append(listener)

    def _notify(self, tenant: str, kind: str, data: Mapping[str, Any]) -> None:
        for listener in self._listeners:
            listener(tenant, kind, data)

    def reject(self, tenant: str, rejected: Rejected) -> None:
        """Keep a refused request for /_mock/rejected, and tell the listeners."""
        self.store.reject(tenant, rejected)
        self._notify(tenant, "rejected", rejected.as_dict())

    def _show_later(self, prepared: Prepared, delay: float) -> None:
        handles = self._hidden.setdefault(prepared.tenant, set())

        def show() -> None:
            handles.discard(handle)
            self._show(prepared)

        handle = asyncio.get_running_loop().call_later(delay, show)
        handles.add(handle)

    async def reset(self, tenant: str) -> None:
        if self._journal is not None:
            await self._journal.append({"op": "reset", "t": tenant})
        for handle in self._hidden.pop(tenant, set()):
            handle.cancel()  # the reset forgets them, as it does what is already visible
        self.store.reset(tenant)
        self.waits.reset(tenant)
        self._notify(tenant, "reset", {})

    async def wait_for_count(
        self, tenant: str, query: EventQuery, count: int, timeout: float
    ) -> bool:
        """Wait until at least `count` events match `query`, or `timeout` seconds pass. The
        store is read once; then the waiter's count follows the writes (waits.py)."""
        loop = asyncio.get_running_loop()
        reached: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            if not reached.done():
                reached.set_result(None)

        waiter = Waiter(query, count, self.store.count(tenant, query), wake)
        if waiter.reached:
            return True
        self.waits.add(tenant, waiter)
        try:
            await asyncio.wait_for(reached, timeout)
        except TimeoutError:
            return waiter.reached
        finally:
            self.waits.remove(tenant, waiter)
        return True
