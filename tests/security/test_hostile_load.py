"""Under hostile load: costs that follow the work, not what is stored (issue: linear stitching,
cheap waits, bounded streams, paging in O(limit), no state from refused requests). Complexity is
asserted through counts of work (documents decoded, waiter checks) and bytes held, never time."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from aiohttp import ClientSession, web

from mockserver.http.keys import SERVICE
from mockserver.http.stream import FEED
from mockserver.state.identity import IdentityGraph
from mockserver.state.store import tenant_key
from tests.conftest import StartMock, make_event

WAIT = 10.0


def identify(user: str, anonymous: str, n: int = 0) -> dict[str, Any]:
    return make_event(eventType="identify", eventTime=f"2026-11-28T10:{n // 60 % 60:02d}:"
                      f"{n % 60:02d}.000Z", actors={"Customer": {"userId": user,
                                                                 "anonymousId": anonymous}})


async def post(http: ClientSession, url: str, events: list[dict[str, Any]],
               token: str | None = None) -> None:
    headers = {"apiToken": token} if token else None
    async with http.post(f"{url}/events", json=events, headers=headers) as response:
        assert response.status == 202, await response.text()


# -- the live feed: bounded in bytes ----------------------------------------------------------


async def test_a_stalled_subscriber_is_dropped_past_its_byte_limit_and_memory_returns(
    start_mock: StartMock, apps: list[web.Application], token: str, http: ClientSession,
) -> None:
    limit = 64 * 1024
    async with start_mock(stream_queue_bytes=limit) as url:
        feed = apps[0][FEED]
        tenant = tenant_key(token)
        host, port = url.removeprefix("http://").split(":")
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect((host, int(port)))
        stalled.sendall(f"GET /_mock/stream?token={token} HTTP/1.1\r\nHost: {host}\r\n\r\n"
                        .encode())
        assert await feed.wait_for_listeners(tenant, 1, WAIT)
        big = make_event(labels={f"k{i}": "x" * 4000 for i in range(50)})  # ~200 KB each
        sent = 0
        while feed.listeners(tenant) == 1:  # it reads nothing: writes pile up until dropped
            await post(http, url, [big] * 5)
            sent += 1
            assert sent < 200, "never dropped"
            assert feed.pending_bytes() <= limit  # held by the feed: never more than its limit
        assert feed.pending_bytes() == 0
        # It reads at last: what was in flight, then the final dropped message, then the end.
        stalled.setblocking(False)
        received = bytearray()
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(WAIT):
            while chunk := await loop.sock_recv(stalled, 1 << 20):
                received += chunk
        stalled.close()
        assert b'event: dropped\r\n' not in received  # SSE lines end with \n only
        tail = b'event: dropped\ndata: {"reason":"overflow","limitBytes":65536}\n\n'
        assert tail in received
        assert received.rstrip(b"\r\n0").endswith(tail.rstrip(b"\n"))


async def test_a_reset_empties_the_queues_of_its_tenant(
    start_mock: StartMock, apps: list[web.Application], token: str, http: ClientSession,
) -> None:
    async with start_mock() as url:
        feed = apps[0][FEED]
        tenant = tenant_key(token)
        with feed.subscribe(tenant) as subscription:  # a subscriber that never reads
            await post(http, url, [make_event()] * 20)
            assert feed.pending_bytes() > 5_000
            async with http.post(f"{url}/_mock/reset") as response:
                assert response.status == 200
            reset = b"event: reset\ndata: {}\n\n"
            assert feed.pending_bytes() == len(reset)
            assert await subscription.next(0) == [reset]


# -- waits: work per write follows the waiters of that tenant ---------------------------------


async def test_waits_on_a_big_tenant_cost_other_tenants_nothing_and_its_writes_little(
    start_mock: StartMock, apps: list[web.Application], token: str, http: ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with start_mock() as url:
        service = apps[0][SERVICE]
        store, waits = service.store, service.waits
        all_waiting = asyncio.Event()  # set when the server has registered the 20 waits
        register = waits.add

        def add(tenant: str, waiter: Any) -> None:
            register(tenant, waiter)
            if sum(len(w) for w in waits._waiters.values()) >= 20:
                all_waiting.set()

        monkeypatch.setattr(waits, "add", add)
        big = [make_event(eventTime=f"2026-11-{1 + n % 28:02d}T10:00:00.000Z")
               for n in range(1000)]
        for _ in range(5):
            await post(http, url, big)  # 5,000 events
        params = {"since": "2026-11-10T00:00:00Z", "eventType": "Order Completed"}
        async with http.get(f"{url}/_mock/events", params={**params, "limit": "0"}) as r:
            matching = (await r.json())["total"]
        params.update(min_count=str(matching + 11), timeout="30")
        decoded = store.decoded()
        waiting = [asyncio.ensure_future(http.get(f"{url}/_mock/events", params=params))
                   for _ in range(20)]
        await asyncio.wait_for(all_waiting.wait(), WAIT)
        assert store.decoded() == decoded  # counted through the eventTime order: none decoded
        # Another tenant's writes: no waiter of theirs, no work at all.
        matched = waits.matched
        for _ in range(10):
            await post(http, url, [make_event()], token="t-someone-else")
        assert (waits.matched, store.decoded()) == (matched, decoded)
        # The waited-on tenant's writes: one check per waiter and new event, nothing decoded.
        await post(http, url, [make_event()] * 10)
        assert (waits.matched - matched, store.decoded()) == (20 * 10, decoded)
        await post(http, url, [make_event()])  # the 11th: every wait is answered
        for wait in waiting:
            async with await wait as response:
                answer = await response.json()
                assert (answer["minCountReached"], answer["total"]) == (True, matching + 11)


async def test_a_wait_counts_exactly_across_a_stitch(
    mock_url: str, http: ClientSession,
) -> None:
    await post(http, mock_url, [make_event(actors={"Customer": {"anonymousId": "a1"}})] * 3)
    waiting = asyncio.ensure_future(http.get(f"{mock_url}/_mock/events", params={
        "userId": "u1", "min_count": "4", "timeout": "10"}))
    await post(http, mock_url, [identify("u1", "a1")])  # the link brings a1's 3 events
    async with await waiting as response:
        answer = await response.json()
    assert (answer["minCountReached"], answer["total"]) == (True, 4)


# -- stitching: linear in its work ------------------------------------------------------------


def test_one_user_on_n_devices_costs_what_n_users_cost() -> None:
    """Measured in work, not time: the nodes a link records and the members moved by merges."""
    n = 20_000
    chain, separate = IdentityGraph(), IdentityGraph()
    for i in range(n):
        chain.observe(i + 1, {"Customer": {"userId": "u", "anonymousId": f"a{i}"}})
        separate.observe(i + 1, {"Customer": {"userId": f"u{i}", "anonymousId": f"a{i}"}})
    def recorded(graph: IdentityGraph) -> int:
        return sum(len(link.nodes) for c in graph._components.values() for link in c.links)

    assert recorded(chain) == recorded(separate) == 2 * n  # each link: the event's two ids
    assert chain.merges == separate.merges == n
    assert chain.actor_count() == 1 and separate.actor_count() == n


class _Counted(str):
    """An identifier name or value that counts the equality tests made between two of them
    (not those with a constant such as "userId", one per identifier)."""

    compared = 0
    __hash__ = str.__hash__

    def __eq__(self, other: object) -> bool:
        _Counted.compared += isinstance(other, _Counted)
        return str.__eq__(self, other)


def test_one_event_with_many_identifier_names_costs_linear_work() -> None:
    """One actor carrying n identifier names (each a new node): the identifiers are never
    compared with one another (a list's membership test compared each with every earlier one:
    n * (n - 1) / 2 tests, 8 s for 20,000 names). Counted: equality tests between names and
    values; n and 2n cost n - 1 and 2n - 1."""
    for n in (1_000, 2_000):
        graph = IdentityGraph()
        actors = {"Customer": {_Counted(f"name{i}"): _Counted(f"value{i}") for i in range(n)}}
        _Counted.compared = 0
        assert graph.observe(1, actors) == []
        assert _Counted.compared == n - 1  # each identifier once with its new actor's root
        _Counted.compared = 0
        assert (graph.actor_count(), graph.merges) == (1, 1)
        assert graph.observe(2, actors) == []  # known: the fast path, no comparisons either
        assert _Counted.compared == 0
        view = graph.actor_of(("Customer", "name7", "value7"))
        assert view is not None and (len(view.members), view.seqs) == (n, [1, 2])


async def test_the_actor_view_and_the_actors_list_are_paged(
    mock_url: str, http: ClientSession,
) -> None:
    await post(http, mock_url, [identify("u1", f"a{i:03d}", i) for i in range(300)])
    await post(http, mock_url, [identify(f"v{i}", f"b{i}", i) for i in range(5)])
    async with http.get(f"{mock_url}/_mock/actor", params={"userId": "u1"}) as response:
        actor = await response.json()
    assert (actor["eventCount"], len(actor["events"]), actor["limit"], actor["offset"]) == (
        300, 50, 50, 0)
    assert (actor["identifierCounts"], len(actor["identifiers"]["anonymousId"])) == (
        {"anonymousId": 300, "userId": 1}, 100)
    assert (actor["linkCount"], len(actor["links"])) == (300, 100)  # each identify joined two
    assert actor["links"][1]["identifiers"] == [{"name": "userId", "value": "u1"},
                                                {"name": "anonymousId", "value": "a001"}]
    async with http.get(f"{mock_url}/_mock/actor", params={
            "anonymousId": "a007", "limit": "3", "offset": "297"}) as response:
        tail = await response.json()
    assert [e["id"] for e in tail["events"]] == ["evt_0000000298", "evt_0000000299",
                                                 "evt_0000000300"]
    async with http.get(f"{mock_url}/_mock/actors", params={"limit": "2", "offset": "1"}) as r:
        page = await r.json()
    assert page["total"] == 6
    assert [a["userId"] for a in page["actors"]] == ["v0", "v1"]
    async with http.get(f"{mock_url}/_mock/actors", params={"limit": "1"}) as r:
        first = (await r.json())["actors"][0]
    assert (first["userId"], first["eventCount"], first["identifierCounts"]) == (
        "u1", 300, {"anonymousId": 300, "userId": 1})


# -- refused requests leave no tenant ---------------------------------------------------------


async def test_failed_requests_create_no_tenant(
    start_mock: StartMock, apps: list[web.Application], http: ClientSession,
) -> None:
    async with start_mock() as url:
        store = apps[0][SERVICE].store
        for n in range(50):
            headers = {"apiToken": f"t-stranger-{n}", "Content-Type": "application/json"}
            async with http.post(f"{url}/event", data=b"{", headers=headers) as r:
                assert r.status == 400
            async with http.post(f"{url}/nowhere", headers=headers) as r:
                assert r.status == 404
            async with http.get(f"{url}/_mock/actor", params={"userId": "x"},
                                headers=headers) as r:
                assert r.status == 404
            async with http.get(f"{url}/_mock/events", headers=headers) as r:
                assert r.status == 200
        async with http.post(f"{url}/event", data=b"{}", headers={"apiToken": ""}) as r:
            assert r.status == 401
        assert store.tenant_count() == 0
        # A refused client can still see why nothing arrived (bounded over all tokens).
        async with http.get(f"{url}/_mock/rejected",
                            headers={"apiToken": "t-stranger-7"}) as r:
            assert [x["status"] for x in (await r.json())["rejected"]] == [404, 400]
        await post(http, url, [make_event()], token="t-stranger-7")
        assert store.tenant_count() == 1  # the first accepted write creates it
