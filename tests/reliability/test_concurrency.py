"""50 concurrent clients send 20,000 events in total to one tenant of one mock with a durable
journal (concurrent writes share fsyncs): the stored count is exact, and so are the ids.

Each client has its own connection and sends its 400 events one request at a time, in seeded
batches of 1 to 30 events (single events on POST /event, the rest on POST /events), each request
with an Idempotency-Key; every 10th request is sent twice, so replays are mixed into the load
and must store nothing. (Restarts and crashes are test_crash_safety.py's.)
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, TCPConnector

from tests.conftest import StartMock, make_event

Json = dict[str, Any]
CLIENTS = 50
EVENTS = 20_000
PER_CLIENT = EVENTS // CLIENTS
REPLAY_EVERY = 10


def event_id(seq: int) -> str:
    return f"evt_{seq:010d}"


def plan(client: int) -> list[list[Json]]:
    """The client's requests: seeded batch sizes adding up to PER_CLIENT events."""
    sizes = random.Random(client)
    requests, n = [], 0
    while n < PER_CLIENT:
        size = min(sizes.choice([1, 1, 5, 10, 20, 30]), PER_CLIENT - n)
        requests.append([make_event(eventType=f"Client {client}",
                                    actors={"Customer": {"userId": f"u_{client}"}},
                                    numbers={"n": n + i}) for i in range(size)])
        n += size
    return requests


async def run_client(url: str, token: str, client: int) -> tuple[list[str], int]:
    """Send the client's plan; return the ids it was answered (in order) and its replays."""
    ids: list[str] = []
    replays = 0
    connector = TCPConnector(limit=1)  # a client of its own, on its own connection
    async with ClientSession(headers={"apiToken": token}, connector=connector) as http:
        for number, events in enumerate(plan(client)):
            key = f"c{client}-r{number}"
            for attempt in range(2 if number % REPLAY_EVERY == 0 else 1):
                single = len(events) == 1
                path, body = ("/event", events[0]) if single else ("/events", events)
                async with http.post(f"{url}{path}", json=body,
                                     headers={"Idempotency-Key": key}) as response:
                    answer = await response.json()
                    assert response.status == (200 if attempt else 202), answer
                got = [answer["id"]] if single else answer["ids"]
                assert answer["duplicate"] is bool(attempt)
                if attempt:
                    assert got == ids[-len(got):]  # the replay answers the original ids
                    replays += 1
                else:
                    ids.extend(got)
    return ids, replays


async def test_50_concurrent_clients_20000_events_the_stored_count_is_exact(
    start_mock: StartMock, token: str, http: ClientSession, tmp_path: Path
) -> None:
    db = str(tmp_path / "journal.log")
    async with start_mock(db=db, commit_window_seconds=0.002) as url:
        results = await asyncio.gather(*(run_client(url, token, c) for c in range(CLIENTS)))
        answered = [id_ for ids, _ in results for id_ in ids]
        replays = sum(count for _, count in results)
        assert len(answered) == len(set(answered)) == EVENTS
        assert set(answered) == {event_id(n) for n in range(1, EVENTS + 1)}
        for ids, _ in results:  # each client's events in the order it sent them
            assert ids == sorted(ids)
        await check_store(http, url, replays, results)


async def check_store(http: ClientSession, url: str, replays: int,
                      results: list[tuple[list[str], int]]) -> None:
    async with http.get(f"{url}/_mock/stats") as response:
        stats = await response.json()
    assert stats == {
        "events": EVENTS, "eventTypes": {f"Client {c}": PER_CLIENT for c in range(CLIENTS)},
        "actors": CLIENTS, "stitchedActors": 0, "conflicts": 0, "rejected": 0,
        "idempotentReplays": replays, "duplicateIdempotencyKeys": 0,
    }
    async with http.get(f"{url}/_mock/events", params={"limit": 10_000}) as response:
        first = await response.json()
    async with http.get(f"{url}/_mock/events",
                        params={"limit": 10_000, "offset": 10_000}) as response:
        second = await response.json()
    stored = [(e["id"], e["event"]["eventType"], e["event"]["numbers"]["n"])
              for e in first["events"] + second["events"]]
    assert (first["total"], len(stored)) == (EVENTS, EVENTS)
    assert [id_ for id_, _, _ in stored] == [event_id(n) for n in range(1, EVENTS + 1)]
    for client, (ids, _) in enumerate(results):
        mine = [(id_, n) for id_, kind, n in stored if kind == f"Client {client}"]
        assert mine == list(zip(ids, range(PER_CLIENT), strict=True))
