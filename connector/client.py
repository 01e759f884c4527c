"""Delivery of Pointillist events over HTTP (I/O only; it never maps or inspects events).

The caller owns the `aiohttp.ClientSession` (and with it keep-alive and the connection pool); the
client owns the policy:

- at most `concurrency` requests in flight, counting every attempt;
- per ordering key (the actor), events go one at a time in input order: an event is sent only
  after the previous one for the same key has been answered (stored or finally failed);
- 408, 429, 5xx (but 501 and 505, which no retry changes), connection errors and timeouts are
  retried until the time budget `retry_for` has passed: with capped exponential backoff and full
  jitter, or after `Retry-After` (seconds or an HTTP date, capped) when the answer carries one,
  which does not count as one of the `max_retries` (Segment's analytics-node does the same);
  any other 4xx fails at once with the server's error code and message;
- when nothing has ever been answered and connections keep failing for `unreachable_after`
  seconds, every delivery fails at once with `unreachable` (a command line fails fast);
- outages of the destination are told once when they start and once when they end
  (outage.OutageWatch, a WARNING naming the URL);
- each request carries `apiToken`, `Content-Type: application/json` and, when the item has an
  idempotency key (the Segment messageId), `Idempotency-Key`, so a retry never stores twice.

It speaks the real Pointillist shape, `POST {url}/event` with one event; the mock's `POST /events`
batch extension is opt-in (`DeliveryConfig.batch`). Sleeping, randomness and the wall clock are
injected, so backoff can be tested without waiting. Settings: `config.DeliveryConfig`; errors:
`errors.DeliveryError` (recorded in the result, never raised).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp

from .config import DeliveryConfig
from .errors import DeliveryError
from .outage import OutageWatch

IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255  # the mock's limit for Idempotency-Key
# A batch rejected with one of these may hold good events: they are then sent one by one.
SPLIT_STATUSES = frozenset({400, 404, 413, 422})
# 501 Not Implemented and 505 HTTP Version Not Supported: no retry can change them.
PERMANENT_5XX = frozenset({501, 505})
# Units (events or batches) admitted ahead of the ones in flight, per concurrency slot.
PENDING_PER_SLOT = 32
# The most of a destination's answer that is read: its error code and message, or the mock's
# {"duplicate": true}, fit in far less. The rest is never read (the connection is closed), so a
# huge answer costs no memory; an answer longer than this, not JSON, or nested too deep to
# parse counts for its status alone.
ANSWER_BYTES = 64 * 1024

Sleep = Callable[[float], Awaitable[None]]

__all__ = [
    "Delivery", "DeliveryClient", "DeliveryConfig", "DeliveryError", "DeliveryResult",
    "Failure", "parse_retry_after",
]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event to send: the Pointillist event, its idempotency key and its ordering key."""

    event: Mapping[str, Any]
    idempotency_key: str | None  # the Segment messageId
    ordering_key: str  # the actor, e.g. its userId or anonymousId
    # Keys this event must also follow (and that follow it): set when it joins two actors.
    after: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Failure:
    delivery: Delivery
    error: DeliveryError  # the last one
    attempts: int  # requests made for the request that failed


@dataclass
class DeliveryResult:
    sent: int = 0  # acknowledged with a 2xx (including idempotent replays)
    duplicates: int = 0  # of those, answered as replays of an Idempotency-Key seen before
    skipped: int = 0
    attempts: int = 0  # HTTP requests made
    retries: int = 0
    failures: list[Failure] = field(default_factory=list)
    skip_reasons: Counter[str] = field(default_factory=Counter)

    def skip(self, reason: str, count: int = 1) -> None:
        """Count items the caller decided not to deliver (e.g. unsupported message types)."""
        self.skipped += count
        self.skip_reasons[reason] += count

    @property
    def failed(self) -> int:
        return len(self.failures)

    @property
    def failure_reasons(self) -> dict[str, int]:
        return dict(Counter(failure.error.code for failure in self.failures))

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent, "duplicates": self.duplicates, "skipped": self.skipped,
            "failed": self.failed, "attempts": self.attempts, "retries": self.retries,
            "skipReasons": dict(self.skip_reasons), "failureReasons": self.failure_reasons,
        }


@dataclass(frozen=True, slots=True)
class _Answer:
    error: DeliveryError | None  # None: a 2xx
    attempts: int
    duplicate: bool = False


class DeliveryClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        config: DeliveryConfig,
        *,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        watch: OutageWatch | None = None,
    ) -> None:
        self._session = session
        self._config = config
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()
        self._clock = clock  # wall clock, epoch seconds: for Retry-After dates
        self._monotonic = monotonic  # for the retry budget
        self.watch = watch if watch is not None else OutageWatch(config.url, monotonic)
        self._answered = False  # has the destination ever answered?
        self._unreachable_since: float | None = None
        self.unreachable: DeliveryError | None = None  # set once delivery gave up on the URL
        self._base = config.url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(
            total=config.timeout, sock_connect=config.connect_timeout
        )
        self._slots = asyncio.Semaphore(config.concurrency)
        # ordering key → done-event of the last admitted unit holding that key
        self._tails: dict[str, asyncio.Event] = {}

    async def deliver(
        self, items: Iterable[Delivery], result: DeliveryResult | None = None
    ) -> DeliveryResult:
        """Send every item; return (or add to) a result. Failures are recorded, never raised."""
        result = result if result is not None else DeliveryResult()
        window = asyncio.Semaphore(self._config.concurrency * PENDING_PER_SLOT)
        async with asyncio.TaskGroup() as group:
            for unit in self._units(items):
                await window.acquire()
                keys = {key for item in unit for key in (item.ordering_key, *item.after)}
                before = [self._tails[key] for key in keys if key in self._tails]
                done = asyncio.Event()
                for key in keys:
                    self._tails[key] = done
                group.create_task(self._run(unit, keys, before, done, window, result))
        return result

    def _units(self, items: Iterable[Delivery]) -> Iterator[list[Delivery]]:
        if not self._config.batch:
            yield from ([item] for item in items)
            return
        chunk: list[Delivery] = []
        for item in items:
            chunk.append(item)
            if len(chunk) == self._config.batch_size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    async def _run(
        self,
        unit: list[Delivery],
        keys: set[str],
        before: list[asyncio.Event],
        done: asyncio.Event,
        window: asyncio.Semaphore,
        result: DeliveryResult,
    ) -> None:
        try:
            for earlier in before:
                await earlier.wait()
            if self._config.batch:
                await self._deliver_batch(unit, result)
            else:
                await self._deliver_one(unit[0], result)
        finally:
            done.set()
            for key in keys:
                if self._tails.get(key) is done:
                    del self._tails[key]
            window.release()

    async def _deliver_one(self, item: Delivery, result: DeliveryResult) -> None:
        answer = await self._post("/event", item.event, _header_key(item.idempotency_key), result)
        if answer.error is None:
            result.sent += 1
            result.duplicates += answer.duplicate
        else:
            result.failures.append(Failure(item, answer.error, answer.attempts))

    async def _deliver_batch(self, unit: list[Delivery], result: DeliveryResult) -> None:
        events = [item.event for item in unit]
        answer = await self._post("/events", events, _batch_key(unit), result)
        if answer.error is None:
            result.sent += len(unit)
            result.duplicates += len(unit) if answer.duplicate else 0
        elif answer.error.status in SPLIT_STATUSES:
            for item in unit:  # all or nothing was stored: find the good ones one by one
                await self._deliver_one(item, result)
        else:
            result.failures.extend(Failure(item, answer.error, answer.attempts) for item in unit)

    async def _post(
        self, path: str, payload: Any, key: str | None, result: DeliveryResult
    ) -> _Answer:
        try:
            body = json.dumps(payload, ensure_ascii=False, allow_nan=False).encode()
        except (TypeError, ValueError) as exc:
            return _Answer(DeliveryError("invalid_event", f"not JSON-serialisable: {exc}"), 0)
        headers = {"apiToken": self._config.token, "Content-Type": "application/json"}
        if key is not None:
            headers[IDEMPOTENCY_HEADER] = key
        attempts = backoffs = 0
        deadline = self._monotonic() + self._config.retry_for
        while True:
            if self.unreachable is not None:
                return _Answer(self.unreachable, attempts)
            attempts += 1
            result.attempts += 1
            async with self._slots:
                error, duplicate = await self._attempt(self._base + path, body, headers)
            if error is None or error.status is not None:
                self._answered = True
                self._unreachable_since = None
            if error is None or not error.retryable or error.status == 429:
                self.watch.answered()  # busy is not down
            if error is None:
                return _Answer(None, attempts, duplicate)
            self.watch.failed(error)
            if not error.retryable or self._give_up_on_url(error):
                return _Answer(self.unreachable or error, attempts)
            if error.retry_after is None:
                backoffs += 1
                if self._config.max_retries is not None and backoffs > self._config.max_retries:
                    return _Answer(error, attempts)
            delay = self._delay(backoffs, error.retry_after)
            if self._unreachable_since is not None and self._config.unreachable_after:
                # Never sleep past the moment the URL is given up on: fail fast means fast.
                left = self._unreachable_since + self._config.unreachable_after
                delay = min(delay, max(0.0, left - self._monotonic()) + 0.01)
            if self._monotonic() + delay > deadline:
                return _Answer(_out_of_budget(error, attempts, self._config.retry_for), attempts)
            result.retries += 1
            await self._sleep(delay)

    def _give_up_on_url(self, error: DeliveryError) -> bool:
        """True when the destination never answered and connections kept failing too long."""
        limit = self._config.unreachable_after
        if limit is None or self._answered or error.code != "connect_failed":
            return False
        now = self._monotonic()
        if self._unreachable_since is None:
            self._unreachable_since = now
        if now - self._unreachable_since < limit:
            return False
        self.unreachable = DeliveryError(
            "unreachable", f"{self._config.url} cannot be reached: {error.message} (no "
            f"connection in {now - self._unreachable_since:.1f} s)", None, retryable=True)
        return True

    async def _attempt(
        self, url: str, body: bytes, headers: dict[str, str]
    ) -> tuple[DeliveryError | None, bool]:
        try:
            async with self._session.post(
                url, data=body, headers=headers, timeout=self._timeout, raise_for_status=False
            ) as response:
                payload = await _read_prefix(response.content, ANSWER_BYTES)
                if 200 <= response.status < 300:
                    return None, _is_replay(payload)
                retry_after = parse_retry_after(response.headers.get("Retry-After"), self._clock())
                return _http_error(response.status, response.reason, payload, retry_after), False
        except TimeoutError as exc:  # includes aiohttp's ServerTimeoutError
            return _transport_error("timeout", exc, f"no answer within {self._config.timeout:g} s")
        except aiohttp.ServerDisconnectedError as exc:
            return _transport_error("server_disconnected", exc)
        except aiohttp.ClientConnectorError as exc:
            # aiohttp's own text names "ssl:default" even for http://: say what failed instead.
            reason = exc.os_error.strerror or str(exc.os_error) or type(exc.os_error).__name__
            return _transport_error("connect_failed", exc,
                                    f"cannot connect to {self._config.url}: {reason}")
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            return _transport_error("connection_error", exc)
        except aiohttp.ClientError as exc:
            return DeliveryError("client_error", str(exc) or type(exc).__name__), False

    def _delay(self, attempts: int, retry_after: float | None) -> float:
        """Seconds to wait after the `attempts`-th backoff, or as the server asked."""
        if retry_after is not None:
            return min(retry_after, self._config.retry_after_max)
        ceiling = self._config.backoff_base * 2.0 ** min(max(attempts, 1) - 1, 62)
        return self._rng.uniform(0.0, min(ceiling, self._config.backoff_max))


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or HTTP date), or None."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, when.timestamp() - now)
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


def _http_error(
    status: int, reason: str | None, payload: bytes, retry_after: float | None
) -> DeliveryError:
    code, message = f"http_{status}", payload[:500].decode("utf-8", "replace").strip()
    data = _parse_answer(payload)
    if isinstance(data, dict):
        inner = data["error"] if isinstance(data.get("error"), dict) else data  # {"code", ...}
        if isinstance(inner.get("code"), str) and inner["code"]:
            code = inner["code"]
        if isinstance(inner.get("message"), str):
            message = inner["message"]
    # 408: the server gave up waiting for the body (a stalled network): sending again is safe.
    retryable = status in (408, 429) or (status >= 500 and status not in PERMANENT_5XX)
    return DeliveryError(code, message or reason or f"HTTP {status}", status, retryable,
                         retry_after if retryable else None)


def _out_of_budget(error: DeliveryError, attempts: int, budget: float) -> DeliveryError:
    """The last error, saying that the retry budget, not the error itself, ended the tries."""
    message = f"{error.message} (still failing after {attempts} attempts; retry budget " \
        f"{budget:g} s)"
    return DeliveryError(error.code, message, error.status, error.retryable, error.retry_after)


def _transport_error(
    code: str, exc: BaseException, message: str = ""
) -> tuple[DeliveryError, bool]:
    text = message or str(exc) or type(exc).__name__
    return DeliveryError(code, text, None, retryable=True), False


def _is_replay(payload: bytes) -> bool:
    data = _parse_answer(payload)
    return isinstance(data, dict) and data.get("duplicate") is True


async def _read_prefix(content: aiohttp.StreamReader, limit: int) -> bytes:
    """At most `limit` bytes of an answer's body. O(limit). A body the connection cuts short
    raises ClientPayloadError: a transport failure, retried (safe with the idempotency key)."""
    chunks: list[bytes] = []
    size = 0
    while size < limit and (chunk := await content.read(limit - size)):
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _parse_answer(payload: bytes) -> Any:
    """The answer's JSON, or None for one that is not JSON, cut at ANSWER_BYTES, or nested too
    deep for the parser (a RecursionError, not a ValueError)."""
    if not payload or len(payload) >= ANSWER_BYTES:
        return None
    try:
        return json.loads(payload)
    except (ValueError, RecursionError):
        return None


def _header_key(key: str | None) -> str | None:
    """The key as a header value; one the mock cannot take verbatim is replaced by its digest."""
    if key is None or not key.strip():
        return None
    if len(key) <= MAX_KEY_LENGTH and key.isascii() and key.isprintable() and key == key.strip():
        return key
    return "sha256-" + hashlib.sha256(key.encode()).hexdigest()


def _batch_key(unit: Sequence[Delivery]) -> str | None:
    """A batch is idempotent only when all of its items are: its key derives from theirs."""
    keys = [item.idempotency_key for item in unit]
    if any(key is None or not key.strip() for key in keys):
        return None
    joined = "\n".join(key for key in keys if key is not None)
    return "batch-" + hashlib.sha256(joined.encode()).hexdigest()
