"""Engage inside the gateway: the simulator sees accepted traffic; its syncs go to the outbox.

Every message the gateway accepted (durable in the outbox, not dropped) is observed by the
simulator (`EngageRunner.accepted`). A sync's messages are accepted into the same outbox, with
their `personas_` messageIds, and so travel the same mapping, delivery, retries and dead
letters as every other message.

When syncs run (`sync_clock`):

- `wall`: every `sync_every` seconds of real time, at the gateway clock's `now`.
- `traffic`: in simulated time. The syncs are the multiples of `sync_every` since the Unix
  epoch (as in `segment-connector audiences sync`); a sync at `t` runs as soon as a message
  later than `t` is accepted, before that message is observed. Replaying 60 days of traffic
  through the gateway runs every sync of those 60 days in order.

`POST /_gateway/audiences/sync` runs one sync at once (at a given `now`, or at the gateway
clock in `wall` mode and at the latest message time in `traffic` mode). Syncs never go back in
time: a scheduled sync at or before the last sync is skipped.

The simulator's state lives in memory: a restarted gateway starts from empty audiences, and its
first sync sends `true` for every member again (their messageIds repeat for the same sync time,
so the outbox's dedup drops them within its window).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from ..engage.schedule import EPOCH, next_tick
from ..engage.simulator import EngageSimulator
from ..engage.sync_messages import Message
from ..times import format_nanos, message_time
from .outbox import Outbox
from .settings import SyncClock
from .tracking import Accepted, Entry

log = logging.getLogger("connector.gateway")



class EngageRunner:
    def __init__(
        self,
        simulator: EngageSimulator,
        outbox: Outbox,
        wake: Callable[[], None],
        every: timedelta,
        mode: SyncClock,
        clock: Callable[[], datetime],
        scope: str = "",
    ) -> None:
        self.simulator = simulator
        self._scope = scope  # the dedup scope of the syncs' messages (Engage's own source)
        self._outbox = outbox
        self._wake = wake
        self._every = every
        self._mode = mode
        self._clock = clock
        self._lock = asyncio.Lock()  # one sync at a time, injected in sync order
        self._latest: datetime | None = None  # the latest message time seen (traffic mode)
        self._next: datetime | None = None  # the next grid sync (traffic mode)
        self._timer: asyncio.Task[None] | None = None

    # -- wiring ----------------------------------------------------------------------------

    def start(self) -> None:
        if self._mode == "wall" and self._timer is None:
            self._timer = asyncio.create_task(self._tick(), name="gateway-engage-timer")

    async def stop(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self._every.total_seconds())
            try:
                await self.sync()
            except Exception:  # the timer must outlive a bad moment (disk): log, go on
                log.exception("the scheduled audience sync failed")

    # -- traffic -----------------------------------------------------------------------------

    async def accepted(self, entries: Sequence[Entry], moves_clock: bool = True) -> None:
        """Observe the accepted messages of one request (in time order); in traffic mode, run
        the syncs each message's time has passed first (unless not `moves_clock`: see
        GatewaySettings.clock_write_keys)."""
        timed = []
        for entry in entries:
            if isinstance(entry, Accepted):
                timed.append((message_time(entry.message), entry.message))
        timed.sort(key=lambda pair: (pair[0] is not None, pair[0] or EPOCH))
        async with self._lock:
            for moment, message in timed:
                if self._mode == "traffic" and moves_clock and moment is not None:
                    await self._catch_up(moment)
                self.simulator.observe(message)

    async def _catch_up(self, moment: datetime) -> None:
        """Run the grid syncs strictly before `moment` that are due (skipping any at or before
        the last sync); the first message only sets the first one."""
        if self._next is None:
            self._next = next_tick(moment, self._every)
        while self._next < moment:
            tick, self._next = self._next, self._next + self._every
            last = self.simulator.last_sync
            if last is None or tick > last:
                await self._inject(self.simulator.sync(tick), tick)
        if self._latest is None or moment > self._latest:
            self._latest = moment

    # -- syncing -----------------------------------------------------------------------------

    def default_now(self) -> datetime:
        if self._mode == "traffic":
            candidates = [t for t in (self._latest, self.simulator.last_sync) if t is not None]
            return max(candidates) if candidates else self._clock()
        return self._clock()

    async def sync(self, now: datetime | None = None) -> list[Message]:
        """One sync at `now` (see default_now); raises SyncOrderError before the last sync."""
        async with self._lock:
            at = now if now is not None else self.default_now()
            last = self.simulator.last_sync
            if now is None and last is not None and at < last:
                at = last  # a wall clock that stepped back: sync at the last time again
            emitted = self.simulator.sync(at)
            await self._inject(emitted, at)
            return emitted

    async def _inject(self, emitted: list[Message], at: datetime) -> None:
        if not emitted:
            return
        entries = [Accepted(message["messageId"], message) for message in emitted]
        await self._outbox.accept(entries, self._clock(), self._scope)
        self._wake()
        log.info("audience sync at %s: %d messages", format_nanos(at), len(emitted))

    def status(self) -> dict[str, Any]:
        last = self.simulator.last_sync
        definitions = self.simulator.definitions
        return {
            "syncClock": self._mode,
            "syncEverySeconds": self._every.total_seconds(),
            "lastSync": None if last is None else format_nanos(last),
            "definitions": [
                {"key": d.key, "name": d.name, "id": d.id,
                 "class": d.computation_class, "emit": d.emit}
                for d in definitions.all
            ],
            "stats": self.simulator.stats.as_dict(),
        }
