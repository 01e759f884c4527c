"""Durability over HTTP: a restarted mock has everything it acknowledged, a SIGKILL in the middle
of concurrent writes loses nothing acknowledged and leaves nothing half-written, and a journal
with a torn last line still opens."""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientError, ClientSession

from mockserver.errors import RecordDamaged
from mockserver.record.format import Header
from tests.conftest import StartMock, make_event
from tests.helpers.mock_process import start_process

Json = dict[str, Any]


def event_id(seq: int) -> str:
    return f"evt_{seq:010d}"


def new_token() -> str:
    return f"t-{uuid.uuid4().hex}"


async def post(http: ClientSession, url: str, body: Any, **headers: str) -> tuple[int, Json]:
    async with http.post(url, json=body, headers=headers) as response:
        return response.status, await response.json()


async def get(http: ClientSession, url: str, path: str, **params: Any) -> tuple[int, Json]:
    async with http.get(f"{url}{path}", params=params) as response:
        return response.status, await response.json()


async def snapshot(http: ClientSession, url: str) -> Json:
    """Everything a tenant can see that must survive a restart."""
    shot: Json = {}
    for path, params in (("/_mock/events", {"limit": 10_000}), ("/_mock/actors", {}),
                         ("/_mock/conflicts", {}), ("/_mock/actor", {"userId": "u_1"}),
                         ("/_mock/actor", {"anonymousId": "a_1"}),
                         ("/_mock/actor", {"userId": "u_2"})):
        shot[f"{path} {params}"] = await get(http, url, path, **params)
    status, stats = await get(http, url, "/_mock/stats")
    # Rejected requests and replay counters are diagnostics of one run, not stored data.
    del stats["rejected"], stats["idempotentReplays"]
    shot["stats"] = (status, stats)
    return shot


# -- a clean restart -------------------------------------------------------------------------


async def test_a_restarted_mock_has_every_event_actor_conflict_key_and_reset(
    start_mock: StartMock, tmp_path: Path
) -> None:
    db = str(tmp_path / "journal.log")
    keyed = make_event(eventType="Order Completed", actors={"Customer": {"userId": "u_1"}})
    async with ClientSession(headers={"apiToken": new_token()}) as alice, \
            ClientSession(headers={"apiToken": new_token()}) as bob, \
            ClientSession(headers={"apiToken": new_token()}) as carol:
        async with start_mock(db=db) as url:
            assert await post(alice, f"{url}/event", make_event(
                eventType="Product Viewed", actors={"Customer": {"anonymousId": "a_1"}})) == (
                202, {"id": event_id(1), "duplicate": False})
            assert await post(alice, f"{url}/events", [
                make_event(eventType="identify", labels={"plan": "pro"}, numbers={"logins": "3"},
                           actors={"Customer": {"userId": "u_1", "anonymousId": "a_1"}}),
                make_event(eventType="Product Added", actors={"Customer": {"userId": "u_1"}}),
            ]) == (202, {"ids": [event_id(2), event_id(3)], "count": 2, "duplicate": False})
            assert await post(alice, f"{url}/event", keyed, **{"Idempotency-Key": "k-1"}) == (
                202, {"id": event_id(4), "duplicate": False})
            assert await post(alice, f"{url}/event", keyed, **{"Idempotency-Key": "k-1"}) == (
                200, {"id": event_id(4), "duplicate": True})
            # a_1 already belongs to u_1: a conflict, and u_2 stays a separate actor.
            assert await post(alice, f"{url}/event", make_event(
                eventType="identify", actors={"Customer": {"userId": "u_2", "anonymousId": "a_1"}},
            )) == (202, {"id": event_id(5), "duplicate": False})
            # bob: an event under the same key, a reset, then one event after it.
            assert await post(bob, f"{url}/event", keyed, **{"Idempotency-Key": "k-1"}) == (
                202, {"id": event_id(1), "duplicate": False})
            async with bob.post(f"{url}/_mock/reset") as response:
                assert response.status == 200
            assert await post(bob, f"{url}/event", make_event(eventType="After Reset")) == (
                202, {"id": event_id(2), "duplicate": False})
            # carol: reset to nothing.
            assert await post(carol, f"{url}/event", make_event()) == (
                202, {"id": event_id(1), "duplicate": False})
            async with carol.post(f"{url}/_mock/reset") as response:
                assert response.status == 200

            before = {name: await snapshot(session, url)
                      for name, session in (("alice", alice), ("bob", bob), ("carol", carol))}

        events = before["alice"]["/_mock/events {'limit': 10000}"][1]["events"]
        assert [e["id"] for e in events] == [event_id(n) for n in range(1, 6)]
        # Each event keeps its request's Idempotency-Key (after == before below: across restarts).
        assert [e["idempotencyKey"] for e in events] == [None, None, None, "k-1", None]
        assert before["alice"]["/_mock/actor {'userId': 'u_1'}"][1]["eventCount"] == 4
        assert before["alice"]["/_mock/actor {'userId': 'u_1'}"][1]["numbers"] == {"logins": 3}
        assert before["alice"]["/_mock/actor {'userId': 'u_2'}"][1]["identifiers"] == {
            "userId": ["u_2"]}
        assert before["alice"]["/_mock/conflicts {}"] == (200, {"conflicts": [{
            "actorType": "Customer", "identifier": {"name": "anonymousId", "value": "a_1"},
            "existingUserId": "u_1", "attemptedUserId": "u_2", "eventId": event_id(5)}]})
        assert before["alice"]["stats"] == (200, {
            "events": 5, "eventTypes": {"Order Completed": 1, "Product Added": 1,
                                        "Product Viewed": 1, "identify": 2},
            "actors": 2, "stitchedActors": 1, "conflicts": 1, "duplicateIdempotencyKeys": 0})
        bob_events = before["bob"]["/_mock/events {'limit': 10000}"][1]["events"]
        assert [(e["id"], e["event"]["eventType"]) for e in bob_events] == [
            (event_id(2), "After Reset")]
        assert before["carol"]["/_mock/events {'limit': 10000}"] == (
            200, {"total": 0, "events": []})
        assert before["carol"]["/_mock/actor {'userId': 'u_1'}"][0] == 404

        async with start_mock(db=db) as url:
            after = {name: await snapshot(session, url)
                     for name, session in (("alice", alice), ("bob", bob), ("carol", carol))}
            assert after == before

            # alice's key survived: the retry answers the original id and stores nothing.
            assert await post(alice, f"{url}/event", keyed, **{"Idempotency-Key": "k-1"}) == (
                200, {"id": event_id(4), "duplicate": True})
            status, answer = await post(alice, f"{url}/event", make_event(eventType="Other"),
                                        **{"Idempotency-Key": "k-1"})
            assert (status, answer["error"]["code"]) == (409, "idempotency_key_reused")
            assert (await get(alice, url, "/_mock/stats"))[1]["events"] == 5
            # bob's key went with his reset, so the same request is new again.
            assert await post(bob, f"{url}/event", keyed, **{"Idempotency-Key": "k-1"}) == (
                202, {"id": event_id(3), "duplicate": False})
            # Ids go on after the highest one each tenant was given, a reset one included.
            assert await post(alice, f"{url}/event", make_event()) == (
                202, {"id": event_id(6), "duplicate": False})
            assert await post(carol, f"{url}/event", make_event()) == (
                202, {"id": event_id(2), "duplicate": False})


# -- a crash ---------------------------------------------------------------------------------

WORKERS = 6
BATCH = 4
KILL_AFTER = 40  # acknowledged requests
MAX_REQUESTS = 200  # per worker; the kill comes long before


async def test_a_sigkill_during_concurrent_writes_loses_nothing_acknowledged(
    start_mock: StartMock, http: ClientSession, tmp_path: Path
) -> None:
    db = tmp_path / "journal.log"
    process, url = await start_process(db, tmp_path / "mock.stderr")
    acknowledged: dict[str, list[str]] = {}  # request label → ids it was answered with
    sizes: dict[str, int] = {}
    in_flight = 0
    in_flight_at_kill: int | None = None

    async def worker(number: int) -> None:
        nonlocal in_flight, in_flight_at_kill
        for n in range(MAX_REQUESTS):
            label = f"w{number}-{n}"
            batch = n % 2 == 1
            items = [make_event(labels={"request": label, "item": str(i)})
                     for i in range(BATCH if batch else 1)]
            sizes[label] = len(items)
            in_flight += 1
            try:
                if batch:
                    async with http.post(f"{url}/events", json=items) as response:
                        assert response.status == 202
                        ids = (await response.json())["ids"]
                else:
                    async with http.post(f"{url}/event", json=items[0]) as response:
                        assert response.status == 202
                        ids = [(await response.json())["id"]]
            except (ClientError, TimeoutError):
                assert in_flight_at_kill is not None, "the mock failed before it was killed"
                return
            finally:
                in_flight -= 1
            acknowledged[label] = ids
            if len(acknowledged) == KILL_AFTER and in_flight_at_kill is None:
                in_flight_at_kill = in_flight
                process.kill()
        raise AssertionError("the mock was never killed")

    try:
        await asyncio.wait_for(asyncio.gather(*(worker(n) for n in range(WORKERS))), 60)
        assert await process.wait() == -signal.SIGKILL
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert in_flight_at_kill is not None and in_flight_at_kill >= 1

    async with start_mock(db=str(db)) as restarted:
        status, body = await get(http, restarted, "/_mock/events", limit=10_000)
        assert status == 200
        stored: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for item in body["events"]:
            stored[item["event"]["labels"]["request"]].append(
                (item["event"]["labels"]["item"], item["id"]))
        for label, ids in acknowledged.items():  # every acknowledged event, exactly once
            assert stored[label] == [(str(i), id_) for i, id_ in enumerate(ids)], label
        for label, found in stored.items():  # nothing half there, acknowledged or not
            assert [item for item, _ in found] == [str(i) for i in range(sizes[label])], label
        assert body["total"] == sum(len(found) for found in stored.values())
        assert body["total"] >= sum(len(ids) for ids in acknowledged.values())
        # The reopened journal takes new writes after the last stored id.
        last = max(int(item["id"][4:]) for item in body["events"])
        assert await post(http, f"{restarted}/event", make_event()) == (
            202, {"id": event_id(last + 1), "duplicate": False})


# -- torn and damaged journals ---------------------------------------------------------------


async def store_three(start_mock: StartMock, http: ClientSession, db: Path) -> list[Json]:
    events = [make_event(eventType=f"Step {n}") for n in range(3)]
    async with start_mock(db=str(db)) as url:
        for n, event in enumerate(events, start=1):
            assert await post(http, f"{url}/event", event) == (
                202, {"id": event_id(n), "duplicate": False})
    return events


async def test_a_journal_with_a_torn_last_line_opens_with_everything_before_it(
    start_mock: StartMock, http: ClientSession, tmp_path: Path
) -> None:
    db = tmp_path / "journal.log"
    events = await store_three(start_mock, http, db)
    header, *lines = db.read_bytes().splitlines(keepends=True)
    assert len(lines) == 3
    # Tear the last record by hand, as a crash in the middle of its write would.
    db.write_bytes(header + lines[0] + lines[1] + lines[2][: len(lines[2]) // 2])

    async with start_mock(db=str(db)) as url:
        status, body = await get(http, url, "/_mock/events")
        assert status == 200
        assert [(e["id"], e["event"]) for e in body["events"]] == [
            (event_id(1), events[0]), (event_id(2), events[1])]
        later = make_event(eventType="After The Tear")
        assert await post(http, f"{url}/event", later) == (
            202, {"id": event_id(3), "duplicate": False})
    # The torn tail was cut, so the new record is a whole line of its own.
    journal = db.read_bytes()
    assert journal.startswith(header + lines[0] + lines[1])
    added = journal[len(header + lines[0] + lines[1]):]
    assert added.count(b"\n") == 1 and added.endswith(b"\n")
    assert [doc["event"] for doc in json.loads(added[9:])["docs"]] == [later]  # after the CRC
    async with start_mock(db=str(db)) as url:
        status, body = await get(http, url, "/_mock/events")
        assert [(e["id"], e["event"]) for e in body["events"]] == [
            (event_id(1), events[0]), (event_id(2), events[1]), (event_id(3), later)]


async def test_a_journal_holding_only_a_torn_line_opens_empty(
    start_mock: StartMock, http: ClientSession, tmp_path: Path
) -> None:
    db = tmp_path / "journal.log"
    db.write_bytes(Header().line() + b'c0ffee00 {"op":"add","t":"0123456789abcdef","k":null,')
    async with start_mock(db=str(db)) as url:
        assert await get(http, url, "/_mock/events") == (200, {"total": 0, "events": []})
        assert await post(http, f"{url}/event", make_event()) == (
            202, {"id": event_id(1), "duplicate": False})
    assert db.read_bytes().count(b"\n") == 2  # the header and the new record


async def test_a_journal_damaged_before_its_last_line_refuses_to_open(
    start_mock: StartMock, http: ClientSession, tmp_path: Path
) -> None:
    db = tmp_path / "journal.log"
    await store_three(start_mock, http, db)
    header, *lines = db.read_bytes().splitlines(keepends=True)
    damaged = header + lines[0] + b"not json\n" + lines[2]
    db.write_bytes(damaged)
    with pytest.raises(RecordDamaged, match=r"damaged at record 3 \(byte offset \d+\)"):
        async with start_mock(db=str(db)):
            pass
    # Nothing was cut: the damage is left for a person to look at.
    assert db.read_bytes() == damaged
