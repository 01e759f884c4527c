"""The one door to the mock's state: every write, rejection, reset and read the HTTP layer
makes goes through EventService.

Writes run in one order: prepare → journal → apply → wake (waiters, then listeners such as the
live feed). The journal's lines are entries (Prepared.entry); the record is the file on disk
(record/). A write asked to show late (a delayVisibility fault) is stored like any other and
hidden from reads until its time (visibility.py): the write path and compaction never know.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from mockserver.record.compaction import CompactionPolicy, Compactor
from mockserver.record.format import encode_text
from mockserver.record.journal import Journal
from mockserver.record.opening import open_record
from mockserver.service.visibility import Visibility
from mockserver.service.waits import WaitBook, Waiter
from mockserver.state import actor_views as views
from mockserver.state.documents import public
from mockserver.state.identity import Node
from mockserver.state.store import Doc, EventQuery, Prepared, Rejected, Replay, Store, tenant_key
from mockserver.times import now_text
from mockserver.validation.events import Normalized

# What the HTTP layer passes through the door with its requests (it imports nothing below).
DEFAULT_EVENTS = views.DEFAULT_EVENTS
__all__ = ["DEFAULT_EVENTS", "EventQuery", "EventService", "Listener", "Rejected", "tenant_key"]

# Told of every change as it becomes visible: (tenant, kind, data), kind "stored" (data: the
# stored event as GET /_mock/events lists it), "rejected" (as /_mock/rejected) or "reset".
Listener = Callable[[str, str, Mapping[str, Any]], None]


class EventService:
    def __init__(self, store: Store, journal: Journal | None, compact_min_bytes: int = 0,
                 cut_bytes: int = 0) -> None:
        self._store = store
        self._journal = journal
        self.cut_bytes = cut_bytes  # of an incomplete final entry, cut when the record opened
        policy = CompactionPolicy(compact_min_bytes) if compact_min_bytes else CompactionPolicy()
        self.compactor = None if journal is None else Compactor(journal, store, policy)
        self.waits = WaitBook()
        # Commits still on their way to the journal, by (tenant, Idempotency-Key).
        self._in_flight: dict[tuple[str, str], asyncio.Future[None]] = {}
        self._visibility = Visibility(self._reveal)
        self._listeners: list[tuple[Listener, Callable[[str], bool] | None]] = []

    @classmethod
    def open(cls, db: Path | None, rejected_kept: int, commit_window: float,
             compact_min_bytes: int = 0) -> EventService:
        """The service of the record at `db` (record.opening.open_record: locked, loaded), or
        of nothing with None."""
        store = Store(rejected_kept)
        if db is None:
            return cls(store, None)
        journal, cut = open_record(db, store, commit_window)
        return cls(store, journal, compact_min_bytes, cut)

    @property
    def store(self) -> Store:
        """The state behind the door, for tests and benchmarks that count its work; the HTTP
        layer reads through the methods below."""
        return self._store

    async def check_record(self) -> None:
        """Raise StoreError when the record is no longer at its path (deleted, renamed away,
        replaced): what health reports. O(1): two stat calls."""
        if self._journal is not None:
            await self._journal.check()

    async def close(self) -> None:
        if self.compactor is not None:
            await self.compactor.close()
        self._visibility.close()
        if self._journal is not None:
            await self._journal.close()

    # -- writing ---------------------------------------------------------------------------

    async def write(
        self, tenant: str, items: list[tuple[Mapping[str, Any], Normalized]], key: str | None,
        hide_seconds: float = 0.0,
    ) -> tuple[list[str], bool]:
        """Store `items` durably; return their ids and whether this was an idempotent replay.

        With `hide_seconds`, the items are durable (and their key taken) when this returns, but
        reads show them only that much later."""
        if key is not None:
            # A retry of a request still being written must not be acknowledged before the
            # original is durable; if the original fails, its key is released and this one runs.
            while (pending := self._in_flight.get((tenant, key))) is not None:
                await asyncio.wait([pending])
        outcome = self._store.prepare(tenant, items, now_text(), key)
        if isinstance(outcome, Replay):
            return outcome.ids, True
        if self._journal is None:
            self._durable(outcome, hide_seconds)
            return outcome.ids, False
        # Applied (or aborted) by the journal's callbacks, in journal order, whatever becomes
        # of this request: no task of its own, and one wake-up when its group is on disk.
        try:
            done = self._journal.submit(encode_text(outcome.payload()),
                                        partial(self._durable, outcome, hide_seconds),
                                        partial(self._store.abort, outcome))
        except BaseException:  # closed, or the record is gone: nothing was queued
            self._store.abort(outcome)
            raise
        if key is None:
            await done
            return outcome.ids, False
        self._in_flight[(tenant, key)] = done
        done.add_done_callback(lambda _: self._in_flight.pop((tenant, key), None))
        # Shielded: a retry waits on `done`, which this request's cancellation must not end.
        await asyncio.shield(done)
        return outcome.ids, False

    def _durable(self, prepared: Prepared, hide_seconds: float) -> None:
        """`prepared` is on disk: settle its key, apply it, wake who waits (see journal.py)."""
        self._store.settle(prepared)
        self._apply(prepared, hide_seconds)
        self._written()

    def _written(self, reset: bool = False) -> None:
        if self.compactor is not None:
            self.compactor.poke(reset)

    def _apply(self, prepared: Prepared, hide_seconds: float) -> None:
        tenant = prepared.tenant
        merges_before = self._store.merges(tenant)
        if hide_seconds > 0:  # hidden before it is stored, so no read sees it in between
            self._store.hide(tenant, prepared.docs)
            self._visibility.later(tenant, [doc["seq"] for doc in prepared.docs], hide_seconds)
        self._store.apply(prepared)
        linked = self._store.merges(tenant) != merges_before
        # A hidden write wakes no one, except actor-filtered waiters when it made a link (their
        # recount leaves hidden events out).
        self._wake(tenant, [] if hide_seconds > 0 else prepared.docs, linked)

    def _reveal(self, tenant: str, seqs: Sequence[int]) -> None:
        self._wake(tenant, self._store.reveal(tenant, seqs), False)

    def _wake(self, tenant: str, docs: Sequence[Doc], linked: bool) -> None:
        """Tell the tenant's waiters and listeners, if it has any: nothing is made for no one.
        O(docs * (waiters + listeners))."""
        store = self._store
        if self.waits.any_for(tenant):
            self.waits.applied(tenant, docs, store.graph(tenant), linked,
                               lambda query: store.count(tenant, query))
        listeners = self._listening(tenant)
        if listeners:
            for doc in docs:
                data = public(doc)
                for listener in listeners:
                    listener(tenant, "stored", data)

    def listen(self, listener: Listener, wants: Callable[[str], bool] | None = None) -> None:
        """Call `listener` after each write is shown, each rejection and each reset; with
        `wants`, only for the tenants it says yes to at the time (a live feed with no open
        stream costs a write nothing)."""
        self._listeners.append((listener, wants))

    def _listening(self, tenant: str) -> list[Listener]:
        return [listener for listener, wants in self._listeners
                if wants is None or wants(tenant)]

    def _notify(self, tenant: str, kind: str, data: Mapping[str, Any]) -> None:
        for listener in self._listening(tenant):
            listener(tenant, kind, data)

    def reject(self, tenant: str, rejected: Rejected) -> None:
        """Keep a refused request for /_mock/rejected, and tell the listeners."""
        self._store.reject(tenant, rejected)
        self._notify(tenant, "rejected", rejected.as_dict())

    async def reset(self, tenant: str) -> None:
        """Forget the tenant's events and keys. Atomic with respect to writes: it takes its
        place in the journal's order, and so in the store's (see write)."""
        if self._journal is None:
            self._apply_reset(tenant)
            return
        await self._journal.append({"op": "reset", "t": tenant}, lambda: self._apply_reset(tenant))
        self._written(reset=True)

    def _apply_reset(self, tenant: str) -> None:
        self._visibility.forget(tenant)  # what it hid goes with the rest
        self._store.reset(tenant)
        self.waits.reset(tenant)
        self._notify(tenant, "reset", {})

    # -- reading ---------------------------------------------------------------------------

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

        waiter = Waiter(query, count, self._store.count(tenant, query), wake)
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

    def events(self, tenant: str, query: EventQuery) -> tuple[int, list[Doc]]:
        return self._store.events(tenant, query)

    def actor(self, tenant: str, node: Node, limit: int = DEFAULT_EVENTS,
              offset: int = 0) -> dict[str, Any]:
        return self._store.actor(tenant, node, limit, offset)

    def label_history(self, tenant: str, node: Node, label: str) -> list[dict[str, Any]]:
        return self._store.label_history(tenant, node, label)

    def actors(self, tenant: str, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
        return self._store.actors(tenant, limit, offset)

    def conflicts(self, tenant: str) -> list[dict[str, Any]]:
        return self._store.conflicts(tenant)

    def rejected(self, tenant: str) -> list[dict[str, Any]]:
        return self._store.rejected(tenant)

    def stats(self, tenant: str) -> dict[str, Any]:
        return self._store.stats(tenant)
