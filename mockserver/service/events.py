"""Records events: the store, the journal that makes them durable, and waiters for new data.

The one place where writes happen, so the order is always: prepare → journal → apply → wake
(waiters, then listeners such as the live feed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mockserver.record.compaction import CompactionPolicy, Compactor
from mockserver.record.journal import Journal
from mockserver.record.opening import open_record
from mockserver.service.waits import WaitBook, Waiter
from mockserver.state.actor_views import public
from mockserver.state.store import EventQuery, Prepared, Rejected, Replay, Store
from mockserver.times import now_text
from mockserver.validation.events import Normalized

# Told of every change as it becomes visible: (tenant, kind, data), kind "stored" (data: the
# stored record as GET /_mock/events lists it), "rejected" (as /_mock/rejected) or "reset".
Listener = Callable[[str, str, Mapping[str, Any]], None]


class Recorder:
    def __init__(self, store: Store, journal: Journal | None,
                 policy: CompactionPolicy | None = None, cut_bytes: int = 0) -> None:
        self.store = store
        self._journal = journal
        self.cut_bytes = cut_bytes  # of an incomplete final record, cut when the record opened
        self.compactor = None if journal is None else Compactor(
            journal, store, self._hidden_writes, policy or CompactionPolicy())
        self.waits = WaitBook()
        # Commits still on their way to the journal, by (tenant, Idempotency-Key).
        self._in_flight: dict[tuple[str, str], asyncio.Future[None]] = {}
        # Durable writes whose visibility a delayVisibility fault put off, by tenant.
        self._hidden: dict[str, dict[asyncio.TimerHandle, Prepared]] = {}
        self._listeners: list[Listener] = []

    @classmethod
    def open(cls, db: Path | None, rejected_kept: int, commit_window: float,
             policy: CompactionPolicy | None = None) -> Recorder:
        """The recorder of the record at `db` (record.open_record: locked, loaded), or of
        nothing with None."""
        store = Store(rejected_kept)
        if db is None:
            return cls(store, None)
        journal, cut = open_record(db, store, commit_window)
        return cls(store, journal, policy, cut)

    def _hidden_writes(self) -> list[Prepared]:
        return [p for writes in self._hidden.values() for p in writes.values()]

    async def close(self) -> None:
        if self.compactor is not None:
            await self.compactor.close()
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
        def durable() -> None:  # in journal order, at once: see journal.py
            self.store.settle(prepared)
            if hide_seconds > 0:
                self._show_later(prepared, hide_seconds)
            else:
                self._show(prepared)

        if self._journal is None:
            durable()
            return
        try:
            await self._journal.append(prepared.record(), durable)
        except BaseException:
            self.store.abort(prepared)
            raise
        self._written()

    def _written(self, reset: bool = False) -> None:
        if self.compactor is not None:
            self.compactor.poke(reset)

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
        handles = self._hidden.setdefault(prepared.tenant, {})

        def show() -> None:
            handles.pop(handle, None)
            self._show(prepared)

        handle = asyncio.get_running_loop().call_later(delay, show)
        handles[handle] = prepared

    async def reset(self, tenant: str) -> None:
        """Forget the tenant's events and keys. Atomic with respect to writes: it takes its
        place in the journal's order, and so in the store's (see _commit)."""
        if self._journal is None:
            self._apply_reset(tenant)
            return
        await self._journal.append({"op": "reset", "t": tenant}, lambda: self._apply_reset(tenant))
        self._written(reset=True)

    def _apply_reset(self, tenant: str) -> None:
        for handle in self._hidden.pop(tenant, {}):
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
