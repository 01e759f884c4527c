"""When a stored event shows: a delayVisibility fault hides durable events from reads for a
while. The read side alone knows of it: the journal, compaction and the store's write path
store the event as any other; the store only leaves hidden ids out of its reads
(Store.hide/reveal), and this book of timers shows them again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

Reveal = Callable[[str, Sequence[int]], None]


class Visibility:
    def __init__(self, reveal: Reveal) -> None:
        self._reveal = reveal
        # Pending reveals by tenant: a reset or close cancels them. O(writes hidden now).
        self._timers: dict[str, set[asyncio.TimerHandle]] = {}

    def later(self, tenant: str, seqs: Sequence[int], delay: float) -> None:
        """Call the reveal of `seqs` after `delay` seconds."""
        timers = self._timers.setdefault(tenant, set())

        def show() -> None:
            timers.discard(handle)
            self._reveal(tenant, seqs)

        handle = asyncio.get_running_loop().call_later(delay, show)
        timers.add(handle)

    def forget(self, tenant: str) -> None:
        """The tenant was reset: what it hid is gone with the rest."""
        for handle in self._timers.pop(tenant, ()):
            handle.cancel()

    def close(self) -> None:
        """Hidden events are durable: a restart on the same record shows them."""
        for tenant in list(self._timers):
            self.forget(tenant)
