"""Crash safety: a process under load is killed with SIGKILL at several random (seeded) points and
started again on the same store each time.

- The mock (`pointillist-mock serve --db FILE`), 5,000 events in 223 requests from 8 senders:
  after each restart the journal opens cleanly and every event that was answered 2xx is there,
  with the id it was answered, none twice, no request half stored. Senders resend what was not
  answered with the same Idempotency-Key, so in the end all 5,000 are there exactly once.
- The gateway (`segment-connector gateway --outbox FILE`), 5,000 Segment messages in 100 batches
  from 4 senders while it delivers to a live mock: after each kill the outbox file passes
  SQLite's integrity check and holds every message answered 200, once; after each restart the
  counters add up; in the end the mock holds every event once, each actor's in order.

Killed processes need real processes; everything else runs in this test's event loop.
"""

from __future__ import annotations

import asyncio
import random
import re
import signal
import sqlite3
import sys
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from contextlib import closing
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from aiohttp import ClientSession

from tests.conftest import make_event
from tests.e2e.gateway_helpers import SUCCESS, counts, gateway_stats
from tests.helpers.mock_process import start_process

Json = dict[str, Any]
T = TypeVar("T")
Process = asyncio.subprocess.Process
REPO = Path(__file__).resolve().parents[2]
KILLS = 3
SEED = 20261128  # the kill points; change it to try others


class Crashes:
    """A process under load, SIGKILLed whenever the acknowledged requests reach the next kill
    point; after each kill, `inspect` looks at the store of the dead process, the process is
    started again on the same store, `verify` checks it, and the senders carry on there."""

    def __init__(self, start: Callable[[], Awaitable[tuple[Process, str]]],
                 kill_points: Iterable[int]) -> None:
        self._start = start
        self._kill_points = sorted(kill_points)
        self._kill_now = asyncio.Event()
        self._restarted = asyncio.Event()
        self.url = ""
        self.generation = 0  # how many times the process was started again
        self.killed_generation = -1
        self.acknowledged = 0
        self.kills = 0
        self.in_flight = 0
        self.in_flight_at_kills: list[int] = []
        self.process: Process | None = None

    async def send(self, attempt: Callable[[str], Awaitable[T]]) -> T:
        """`attempt(url)` until it goes through; a failure must be the kill's doing."""
        while True:
            generation, restarted = self.generation, self._restarted
            self.in_flight += 1
            try:
                return await attempt(self.url)
            except (aiohttp.ClientError, OSError):
                assert self.killed_generation == generation, "failed while nobody killed it"
            finally:
                self.in_flight -= 1
            await restarted.wait()

    def acknowledge(self) -> None:
        self.acknowledged += 1
        if self._kill_points and self.acknowledged >= self._kill_points[0]:
            self._kill_now.set()  # the point is passed when the kill is done, not before

    async def run(self, senders: list[Awaitable[None]],
                  inspect: Callable[[], None], verify: Callable[[str], Awaitable[None]]) -> None:
        self.process, self.url = await self._start()
        load = asyncio.gather(*senders)
        try:
            while True:
                kill = asyncio.ensure_future(self._kill_now.wait())
                await asyncio.wait([load, kill], return_when=asyncio.FIRST_COMPLETED)
                if load.done():
                    kill.cancel()
                    break
                self._kill_now.clear()
                self._kill_points.pop(0)
                self.killed_generation = self.generation
                self.in_flight_at_kills.append(self.in_flight)
                self.process.kill()
                assert await self.process.wait() == -signal.SIGKILL
                self.kills += 1
                inspect()
                self.process, url = await self._start()  # the store opens cleanly
                await verify(url)
                self.url, self.generation = url, self.generation + 1
                done, self._restarted = self._restarted, asyncio.Event()
                done.set()
                if self._kill_points and self.acknowledged >= self._kill_points[0]:
                    self._kill_now.set()  # passed while the last kill was under way
            await load
        finally:
            load.cancel()
        assert self.kills == KILLS
        # Each kill came in the middle of the load, with requests on their way.
        assert len(self.in_flight_at_kills) == KILLS and min(self.in_flight_at_kills) >= 1


def kill_points(total: int) -> list[int]:
    """KILLS points between 10 % and 90 % of the acknowledged requests, one in the middle half of
    each of KILLS equal stretches: at least half a stretch apart, so one burst of group-committed
    acknowledgements can never cross two points at once (each kill then has load in flight)."""
    rng = random.Random(SEED)
    low, high = total // 10, total * 9 // 10
    width = (high - low) // KILLS
    return [low + i * width + rng.randrange(width // 4, width * 3 // 4) for i in range(KILLS)]


async def stop(process: Process | None) -> None:
    if process is not None and process.returncode is None:
        process.terminate()
        assert await process.wait() == 0  # SIGTERM: a clean stop


# -- the mock -----------------------------------------------------------------------------------

MOCK_EVENTS = 5000
MOCK_SENDERS = 8


def mock_requests() -> list[list[Json]]:
    """Batches of 25 on POST /events, every 10th request a single event on POST /event."""
    requests: list[list[Json]] = []
    total = 0
    while total < MOCK_EVENTS:
        size = 1 if len(requests) % 10 == 0 else min(25, MOCK_EVENTS - total)
        number = len(requests)
        requests.append([make_event(labels={"request": str(number), "item": str(item)})
                         for item in range(size)])
        total += size
    return requests


async def test_a_mock_killed_at_random_points_keeps_every_acknowledged_event_once(
    http: ClientSession, tmp_path: Path
) -> None:
    await kill_a_mock_under_load(http, tmp_path)


async def test_a_mock_killed_while_compacting_under_load_keeps_every_acknowledged_event_once(
    http: ClientSession, tmp_path: Path
) -> None:
    """With --compact-bytes 8192 the record is compacted every few requests (about 40 times
    over the run), so the kills land in compactions as often as between them; the files each
    kill left behind are counted."""
    leftovers = await kill_a_mock_under_load(http, tmp_path, "--compact-bytes", "8192")
    print(f"files a compaction was writing when killed: {leftovers}")
    assert sorted(p.name for p in tmp_path.glob("journal.log*")) == [
        "journal.log", *[p.name for p in tmp_path.glob("journal.log.snapshot.*.json")]]
    assert len(list(tmp_path.glob("journal.log.snapshot.*.json"))) == 1


async def kill_a_mock_under_load(http: ClientSession, tmp_path: Path, *extra: str) -> list[str]:
    """The mock under load, killed at the seeded points; returns the temporary files each kill
    left beside the record (a compaction under way)."""
    db, log = tmp_path / "journal.log", tmp_path / "mock.stderr"
    requests = mock_requests()
    answered: dict[int, list[str]] = {}  # request number → the ids it was answered with
    leftovers: list[str] = []

    async def start() -> tuple[Process, str]:
        return await start_process(db, log, *extra)

    def inspect() -> None:
        leftovers.extend(sorted(p.name for p in tmp_path.glob("journal.log*.tmp")))

    replays = 0

    async def post(number: int, url: str) -> list[str]:
        nonlocal replays
        events = requests[number]
        single = len(events) == 1
        path, body = ("/event", events[0]) if single else ("/events", events)
        async with http.post(f"{url}{path}", json=body,
                             headers={"Idempotency-Key": f"r-{number}"}) as answer:
            reply = await answer.json()
            # 200 only for a replay: stored before a kill, never answered.
            assert (answer.status, reply["duplicate"]) in ((202, False), (200, True))
        replays += reply["duplicate"]
        return [reply["id"]] if single else list(reply["ids"])

    def sender(crashes: Crashes, numbers: range) -> Awaitable[None]:
        async def run() -> None:
            for number in numbers:
                answered[number] = await crashes.send(partial(post, number))
                crashes.acknowledge()
        return run()

    async def stored(url: str) -> dict[int, list[tuple[int, str]]]:
        """request number → its (item, id) pairs, checked for doubles and halves."""
        async with http.get(f"{url}/_mock/events", params={"limit": 10_000}) as response:
            listed = await response.json()
        by_request: dict[int, list[tuple[int, str]]] = {}
        for item in listed["events"]:
            labels = item["event"]["labels"]
            by_request.setdefault(int(labels["request"]), []).append(
                (int(labels["item"]), item["id"]))
        for number, found in by_request.items():  # all of a request or none of it, once
            assert [i for i, _ in found] == list(range(len(requests[number]))), number
        async with http.get(f"{url}/_mock/stats") as response:
            stats = await response.json()
        assert (stats["events"], listed["total"], stats["duplicateIdempotencyKeys"]) == (
            len(listed["events"]), len(listed["events"]), 0)
        return by_request

    async def verify(url: str) -> None:
        found = await stored(url)
        for number, ids in list(answered.items()):  # every acknowledged event, with its id
            assert found.get(number) == list(enumerate(ids)), number

    crashes = Crashes(start, kill_points(len(requests)))
    senders = [sender(crashes, range(s, len(requests), MOCK_SENDERS)) for s in range(MOCK_SENDERS)]
    try:
        await asyncio.wait_for(crashes.run(senders, inspect, verify), 120)
        await verify(crashes.url)
        final = await stored(crashes.url)
        assert sorted(final) == list(range(len(requests)))
        assert sum(len(found) for found in final.values()) == MOCK_EVENTS
        print(f"requests in flight at the kills: {crashes.in_flight_at_kills}; "
              f"answered as replays after a restart: {replays}")
    finally:
        await stop(crashes.process)
    return leftovers


# -- the gateway --------------------------------------------------------------------------------

GATEWAY_MESSAGES = 5000
GATEWAY_SENDERS = 4
ACTORS_PER_SENDER = 5
PER_BATCH = 50
LISTENING = re.compile(rb"listening on (http://127\.0\.0\.1:\d+) ")


def gateway_batches(sender: int) -> list[list[Json]]:
    """The sender's messages (its own actors), in batches of PER_BATCH."""
    count = GATEWAY_MESSAGES // GATEWAY_SENDERS
    messages = []
    for index in range(count):
        n = sender * count + index
        actor = sender * ACTORS_PER_SENDER + index % ACTORS_PER_SENDER
        messages.append({"type": "track", "event": "Order Completed", "userId": f"u_{actor}",
                         "messageId": f"m-{n}", "timestamp": "2026-11-28T09:00:00.000Z",
                         "properties": {"n": n}})
    return [messages[i: i + PER_BATCH] for i in range(0, count, PER_BATCH)]


def outbox_messages(outbox: Path) -> Counter[str]:
    """messageId → rows, read from the file as the next gateway will find it."""
    with closing(sqlite3.connect(outbox)) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        return Counter(row[0] for row in db.execute("SELECT message_id FROM messages"))


async def test_a_gateway_killed_at_random_points_keeps_its_outbox_and_delivers_once(
    mock_url: str, token: str, http: ClientSession, tmp_path: Path
) -> None:
    outbox, log = tmp_path / "outbox.sqlite3", tmp_path / "gateway.log"
    accepted: list[str] = []  # messageIds answered 200

    async def start() -> tuple[Process, str]:
        with log.open("ab") as stderr:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "connector.cli", "gateway", "--port", "0",
                "--pointillist-url", mock_url, "--pointillist-token", token,
                "--outbox", str(outbox), cwd=REPO, stdout=asyncio.subprocess.PIPE,
                stderr=stderr)
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        found = LISTENING.search(line)
        if found is None:
            process.kill()
            await process.wait()
            raise AssertionError(f"no address in {line!r}; log: {log.read_text()}")
        return process, found.group(1).decode()

    async def post(batch: list[Json], url: str) -> None:
        async with http.post(f"{url}/v1/batch", json={"batch": batch}) as answer:
            assert (answer.status, await answer.json()) == (200, SUCCESS)

    def sender(crashes: Crashes, number: int) -> Awaitable[None]:
        async def run() -> None:
            for batch in gateway_batches(number):
                await crashes.send(partial(post, batch))  # the same batch until it is answered
                accepted.extend(message["messageId"] for message in batch)
                crashes.acknowledge()
        return run()

    in_outbox: list[int] = []  # messages the dead gateway's outbox held, per kill

    def inspect() -> None:
        rows = outbox_messages(outbox)
        assert all(count == 1 for count in rows.values())  # none twice
        assert set(accepted) <= set(rows)  # every message answered 200 is there
        in_outbox.append(len(rows))

    async def verify(url: str) -> None:
        """The restarted gateway (which holds the file now) counts what the file held."""
        async with http.get(f"{url}/_gateway/stats") as response:
            stats = await response.json()
        assert stats == counts(received=in_outbox[-1] + stats["deduplicated"],
                               deduplicated=stats["deduplicated"], pending=stats["pending"],
                               delivered=in_outbox[-1] - stats["pending"])

    batches = GATEWAY_MESSAGES // PER_BATCH
    crashes = Crashes(start, kill_points(batches))
    senders = [sender(crashes, s) for s in range(GATEWAY_SENDERS)]
    try:
        await asyncio.wait_for(crashes.run(senders, inspect, verify), 120)
        assert len(accepted) == len(set(accepted)) == GATEWAY_MESSAGES
        stats = await gateway_stats(http, crashes.url, delivered=GATEWAY_MESSAGES)
        assert stats == counts(received=GATEWAY_MESSAGES + stats["deduplicated"],
                               deduplicated=stats["deduplicated"], delivered=GATEWAY_MESSAGES)
        print(f"requests in flight at the kills: {crashes.in_flight_at_kills}; messages "
              f"resent and deduplicated: {stats['deduplicated']}")
    finally:
        await stop(crashes.process)

    async with http.get(f"{mock_url}/_mock/events", params={"limit": 10_000}) as response:
        events = (await response.json())["events"]
    numbers = [e["event"]["numbers"]["n"] for e in events]
    assert sorted(numbers) == list(range(GATEWAY_MESSAGES))  # each exactly once
    orders: dict[str, list[int]] = {}
    for item in events:
        orders.setdefault(item["event"]["actors"]["Customer"]["userId"], []).append(
            item["event"]["numbers"]["n"])
    count = GATEWAY_MESSAGES // GATEWAY_SENDERS
    assert orders == {
        f"u_{s * ACTORS_PER_SENDER + a}": list(range(s * count + a, (s + 1) * count,
                                                     ACTORS_PER_SENDER))
        for s in range(GATEWAY_SENDERS) for a in range(ACTORS_PER_SENDER)}
    async with http.get(f"{mock_url}/_mock/stats") as response:
        stats = await response.json()
    assert (stats["events"], stats["duplicateIdempotencyKeys"]) == (GATEWAY_MESSAGES, 0)
    print(f"deliveries answered as replays: {stats['idempotentReplays']}")
