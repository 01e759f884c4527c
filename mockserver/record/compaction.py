"""Compaction: the record's size and restart time follow live data, not history.

A compaction fixes the store's state on the event loop (Store.capture: the state after exactly
the journal's first `Journal.size` bytes, because the journal applies writes in its own order),
writes it as a snapshot in a thread while writes go on, then rotates the journal: a new file
holding a new header (naming the new snapshot) and the entries journaled since, renamed over the
record between two group commits. Then the old snapshot is removed. Every step leaves a record
that opens with every acknowledged event: before the rename the old header names the old
snapshot, which is still there; after it, the new one names the new one. Files a kill leaves
behind are removed at the next start (opening._remove_leftovers).

When (CompactionPolicy.due, O(1), checked after every durable write and reset):
- the journal tail reaches max(min_bytes, half the snapshot): a restart replays at most a
  third of the record as journal, and each byte stored is rewritten about three times over a
  growing record's life;
- or, after a reset, the record is more than twice its live data plus min_bytes: a reset of
  everything shrinks the record to its header and a snapshot of a few hundred bytes. (Only
  after a reset: what a snapshot holds besides events, keys and each tenant's next id, is not
  live data by this measure, and must not start one compaction after another.)
A compaction that ends looks again, so a reset made while one ran is compacted too.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from mockserver.record.files import fsync_dir, snapshot_path
from mockserver.record.format import Header
from mockserver.record.journal import Journal
from mockserver.record.snapshot import write_snapshot
from mockserver.state.store import Store

log = logging.getLogger("mockserver.compaction")

DEFAULT_MIN_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class CompactionPolicy:
    min_bytes: int = DEFAULT_MIN_BYTES

    def due(self, snapshot: int, tail: int, live: int, reset: bool) -> bool:
        return tail >= max(self.min_bytes, snapshot // 2) or (
            reset and snapshot + tail > 2 * live + self.min_bytes)


class Compactor:
    def __init__(self, journal: Journal, store: Store, policy: CompactionPolicy) -> None:
        self._journal = journal
        self._store = store
        self._policy = policy
        self._task: asyncio.Task[None] | None = None
        self._not_before = 0  # after a failure: the tail size at which to try again
        self._resets = 0  # resets journaled since the last compaction's cut
        self.compactions = 0

    def poke(self, reset: bool = False) -> None:
        """Start a compaction if one is due and none runs. O(1)."""
        self._resets += reset
        if self._task is not None:
            return
        journal = self._journal
        tail = journal.size - journal.tail_start
        snapshot = journal.header.snapshot.bytes if journal.header.snapshot else 0
        if tail >= self._not_before and self._policy.due(
                snapshot, tail, self._store.live_bytes, self._resets > 0):
            self._task = asyncio.create_task(self.compact())

    async def compact(self) -> None:
        """One compaction now (a failure is logged; the record stays as it was)."""
        journal = self._journal
        loop = asyncio.get_running_loop()
        again = False
        try:
            cut, old, resets = journal.size, journal.header.snapshot, self._resets
            views = self._store.capture()
            generation = journal.header.generation + 1
            target = snapshot_path(journal.path, generation)
            ref = await loop.run_in_executor(None, write_snapshot, target, views, generation)
            try:
                await journal.rotate(Header(generation, ref), cut)
            except BaseException:
                if journal.header.generation != generation:  # else the record names it now
                    target.unlink(missing_ok=True)
                raise
            if old is not None:
                await loop.run_in_executor(None, _remove, journal.path.with_name(old.file))
            self.compactions += 1
            self._not_before = 0
            self._resets -= resets
            again = True
        except Exception as exc:
            self._not_before = journal.size - journal.tail_start + self._policy.min_bytes
            log.warning("pointillist-mock: compaction of %s failed, the record is unchanged: %s",
                        journal.path, exc)
        finally:
            self._task = None
        if again:
            self.poke()

    async def close(self) -> None:
        """Let running compactions finish (they hold no acknowledgement back); one that ends
        may start the next that is due, so a record is left compacted."""
        while self._task is not None:
            await asyncio.wait([self._task])


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)
    fsync_dir(path.parent)
