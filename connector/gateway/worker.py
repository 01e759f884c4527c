"""The delivery worker: pending outbox messages → mapping → DeliveryClient → final state.

One background task. It sleeps until `wake()` (called after every accepted request, and once at
start for what a previous run left pending), then takes pending messages in outbox order,
`chunk_size` at a time:

- maps each with `map_message`: Skipped → state skipped (its reason kept); MappingError →
  dead letter with the error (retrying cannot change the outcome);
- hands the mapped events to `DeliveryClient.deliver` in that order, with the messageId as the
  Idempotency-Key and the actor as the ordering key: the client sends one actor's events one at
  a time in order, retries with backoff, and reports the failures left after the retry budget;
- marks the chunk's messages delivered / skipped / deadletter in one transaction.

A message is marked only after Pointillist answered, so a stop (or a crash) in the middle of a
chunk leaves it pending: the next run sends it again with the same Idempotency-Key, which
Pointillist (the mock) answers as a replay instead of storing it twice. The next chunk starts
only when the previous one is settled, so one actor's events never overtake each other across
chunks either; a dead letter re-driven later is delivered after the actor's newer events.

What it tells (logger "connector.gateway"): every dead letter, at WARNING, with its reason; the
end of a destination outage with how many messages wait (its start is the client's, see
../outage.py); at INFO, a delivery summary every `summary_every` seconds while there is news.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Final

from ..client import Delivery, DeliveryClient, DeliveryResult
from ..config import MappingSettings
from ..errors import MappingError
from ..mapping import Skipped, map_message
from ..ordering import StitchedOrdering
from .outbox import Outbox, Outcome, PendingMessage

log = logging.getLogger("connector.gateway")
SKIP_MESSAGES: Final[dict[str, str]] = {
    "unsupported_message_type": "the Pointillist destination takes identify and track only",
    "disabled_in_integrations": "the message's integrations turn Pointillist off",
}


class DeliveryWorker:
    def __init__(
        self,
        outbox: Outbox,
        client: DeliveryClient,
        mapping: MappingSettings,
        clock: Callable[[], datetime],
        chunk_size: int = 500,
        error_pause: float = 1.0,
        summary_every: float = 60.0,
        client_for: Callable[[str], DeliveryClient] | None = None,
    ) -> None:
        self._client_for = client_for  # the client of a message's own token, when it has one
        self._outbox = outbox
        self._client = client
        self._mapping = mapping
        self._clock = clock
        self._chunk_size = chunk_size
        self._error_pause = error_pause
        self._ordering = StitchedOrdering()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._summary_every = summary_every
        self._summary: asyncio.Task[None] | None = None
        self._told: dict[str, int] = {}  # the counters at the last summary
        self._background: set[asyncio.Task[None]] = set()
        client.watch.on_end = self._outage_ended

    def start(self) -> None:
        if self._task is None:
            self._wake.set()  # what an earlier run left pending
            self._task = asyncio.create_task(self._run(), name="gateway-delivery")
            self._summary = asyncio.create_task(self._summarise(), name="gateway-summary")

    async def stop(self) -> None:
        """Cancel the worker; messages it was delivering stay pending for the next run."""
        tasks = [self._task, self._summary, *self._background]
        self._task = self._summary = None
        for task in tasks:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def wake(self) -> None:
        self._wake.set()

    def _outage_ended(self, lasted: float) -> None:
        task = asyncio.create_task(self._tell_outage_end(lasted))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _tell_outage_end(self, lasted: float) -> None:
        try:
            waiting = (await self._outbox.stats())["pending"]
        except Exception:  # the outbox closing: the outage's end is still worth telling
            waiting = -1
        shown = "an unknown number of" if waiting < 0 else str(waiting)
        log.warning("destination %s answers again after %.1f s; %s messages wait",
                    self._client.watch.url, lasted, shown)

    async def _summarise(self) -> None:
        while True:
            await asyncio.sleep(self._summary_every)
            if not log.isEnabledFor(logging.INFO):
                continue
            try:
                stats = await self._outbox.stats()
            except Exception:
                continue
            if stats == self._told:
                continue
            grew = {name: stats[name] - self._told.get(name, 0) for name in stats}
            self._told = stats
            log.info("delivery: +%d received, +%d delivered, +%d skipped, +%d dead letters, "
                     "+%d deduplicated, +%d dropped; %d pending, %d dead letters in all",
                     grew["received"], grew["delivered"], grew["skipped"], grew["deadLettered"],
                     grew["deduplicated"], grew["dropped"], stats["pending"],
                     stats["deadLettered"])

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()  # before reading: a wake during the chunk is not lost
            try:
                while await self.deliver_pending():
                    pass
            except Exception:  # the worker must outlive a bad moment (disk, bug): log, go on
                log.exception("the delivery worker failed; resuming in %ss", self._error_pause)
                await asyncio.sleep(self._error_pause)
                self._wake.set()

    async def deliver_pending(self) -> int:
        """Deliver and settle one chunk of pending messages; returns how many it held."""
        chunk = await self._outbox.pending(self._chunk_size)
        if not chunk:
            return 0
        outcomes: list[Outcome] = []
        deliveries: list[tuple[PendingMessage, Delivery, tuple[str, ...]]] = []
        for pending in chunk:
            try:
                mapped = map_message(pending.message, self._mapping)
            except MappingError as exc:
                error = {"code": exc.code, "message": exc.message, "details": exc.details}
                outcomes.append(Outcome(pending.seq, "deadletter", error))
                continue
            except Exception as exc:  # a mapping bug must not block the outbox forever
                log.exception("mapping message %s failed unexpectedly", pending.message_id)
                error = {"code": "mapping_failed", "message": f"{type(exc).__name__}: {exc}",
                         "details": {}}
                outcomes.append(Outcome(pending.seq, "deadletter", error))
                continue
            if isinstance(mapped, Skipped):
                reason = {"code": mapped.reason, "message": SKIP_MESSAGES[mapped.reason],
                          "details": {"type": mapped.type}}
                outcomes.append(Outcome(pending.seq, "skipped", reason))
                continue
            key, after = self._ordering.keys(mapped.event["actors"])
            delivery = Delivery(mapped.event, pending.message_id, key, after)
            deliveries.append((pending, delivery, mapped.labels_left_out))
        # --token-per-write-key: each message goes with its own token's client (one request per
        # token and chunk); otherwise every message goes with the gateway's one client.
        groups: dict[str | None, list[tuple[PendingMessage, Delivery, tuple[str, ...]]]] = {}
        for item in deliveries:
            token = item[0].token if self._client_for is not None else None
            groups.setdefault(token, []).append(item)
        for token, group in groups.items():
            client = self._client if token is None or self._client_for is None else (
                self._client_for(token))
            result = await client.deliver(delivery for _, delivery, _ in group)
            outcomes.extend(_delivery_outcomes(group, result))
        outcomes.sort(key=lambda outcome: outcome.seq)
        by_seq = {pending.seq: pending.message_id for pending in chunk}
        for outcome in outcomes:
            if outcome.state == "deadletter" and outcome.error is not None:
                log.warning("dead letter %s: %s: %s", by_seq[outcome.seq],
                            outcome.error["code"], outcome.error["message"])
        await self._outbox.settle(outcomes, self._clock())
        return len(chunk)


def _delivery_outcomes(
    deliveries: list[tuple[PendingMessage, Delivery, tuple[str, ...]]], result: DeliveryResult
) -> list[Outcome]:
    failed = {id(failure.delivery): failure for failure in result.failures}
    outcomes = []
    for pending, delivery, left_out in deliveries:
        failure = failed.get(id(delivery))
        if failure is None:
            notes = {"labelsLeftOut": list(left_out)} if left_out else None
            outcomes.append(Outcome(pending.seq, "delivered", notes=notes))
            continue
        error = failure.error
        details = {"status": error.status, "retryable": error.retryable}
        outcomes.append(Outcome(
            pending.seq, "deadletter",
            {"code": error.code, "message": error.message, "details": details},
            failure.attempts,
        ))
    return outcomes
