"""Tenants: a token can neither read, reset, nor inject faults into another token's data, on
any route; strict mode refuses unknown tokens everywhere.

Tenant A stores a small world (a stitched actor, a conflict, a labelled identify, a rejected
request, a fault rule). Then tenant B calls every route of mockserver.routes.ROUTES once (the
table below must name every route, so a route added later without an isolation check fails
here), and after each call A's world is exactly as it was.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import ClientSession

from mockserver.http.routes import ROUTES
from tests.conftest import StartMock, make_event
from tests.helpers.sse import next_message

A = "tenant-a-0123456789abcdef"
B = "tenant-b-0123456789abcdef"
PUBLIC = {("GET", "/_mock/health")}  # no tenant data: answers anyone

A_EVENTS = [
    make_event(eventType="Page Viewed", actors={"Customer": {"anonymousId": "a_9"}}),
    make_event(eventType="identify", actors={"Customer": {"userId": "u_1", "anonymousId": "a_9"}},
               labels={"plan": "pro"}),
    make_event(eventType="Order Completed",
               actors={"Customer": {"userId": "u_2", "anonymousId": "a_9"}}),
]
B_EVENT = make_event(eventType="B only", actors={"Customer": {"userId": "u_1"}})
FAULT = {"kind": "latency", "ms": 0}
BLOCK_ALL = {"kind": "status", "status": 503}
ZERO_STATS = {"events": 0, "eventTypes": {}, "actors": 0, "stitchedActors": 0, "conflicts": 0,
              "rejected": 0}


@dataclass
class World:
    url: str
    a: ClientSession
    b: ClientSession

    async def call(self, session: ClientSession, method: str, path: str,
                   **options: Any) -> tuple[int, Any]:
        async with session.request(method, self.url + path, **options) as response:
            return response.status, await response.json()

    async def view_of_a(self) -> dict[str, Any]:
        """Everything A can see, route by route."""
        view = {}
        for path in ("/_mock/stats", "/_mock/events", "/_mock/actors", "/_mock/conflicts",
                     "/_mock/rejected", "/_mock/actor?userId=u_1",
                     "/_mock/labels/history?userId=u_1&label=plan"):
            status, body = await self.call(self.a, "GET", path)
            assert status == 200, (path, body)
            view[path] = body
        status, faults = await self.call(self.a, "GET", "/_mock/faults")
        view["/_mock/faults"] = [(rule["kind"], rule["active"]) for rule in faults["rules"]]
        return view


@pytest.fixture
async def world(start_mock: StartMock) -> AsyncIterator[World]:
    async with (start_mock() as url, ClientSession(headers={"apiToken": A}) as a,
                ClientSession(headers={"apiToken": B}) as b):
        world = World(url, a, b)
        for event in A_EVENTS:
            assert (await world.call(a, "POST", "/event", json=event))[0] == 202
        assert (await world.call(a, "POST", "/event", json={"eventType": "x"}))[0] == 400
        assert (await world.call(a, "POST", "/_mock/faults", json=FAULT))[0] == 201
        yield world


# -- what B gets from each route (and what B may then do with its own data) ---------------------


async def b_posts_an_event(world: World) -> None:
    status, body = await world.call(world.b, "POST", "/event", json=B_EVENT)
    assert (status, body["duplicate"]) == (202, False)
    assert (await world.call(world.b, "GET", "/_mock/stats"))[1]["events"] == 1


async def b_posts_a_batch(world: World) -> None:
    status, body = await world.call(world.b, "POST", "/events", json=[B_EVENT, B_EVENT])
    assert (status, body["count"]) == (202, 2)


async def b_lists_events(world: World) -> None:
    for query in ("", "?userId=u_1", "?anonymousId=a_9", "?eventType=identify"):
        status, body = await world.call(world.b, "GET", f"/_mock/events{query}")
        assert (status, body) == (200, {"total": 0, "events": []}), query
    status, body = await world.call(world.b, "GET", "/_mock/events?min_count=1&timeout=0.05")
    assert (status, body) == (200, {"total": 0, "events": [], "minCountReached": False})


async def b_asks_for_an_actor(world: World) -> None:
    for query in ("userId=u_1", "anonymousId=a_9"):
        status, body = await world.call(world.b, "GET", f"/_mock/actor?{query}")
        assert (status, body["error"]["code"]) == (404, "actor_not_found"), query


async def b_lists_actors(world: World) -> None:
    assert await world.call(world.b, "GET", "/_mock/actors") == (
        200, {"total": 0, "actors": []})


async def b_asks_for_a_label_history(world: World) -> None:
    status, body = await world.call(world.b, "GET", "/_mock/labels/history?userId=u_1&label=plan")
    assert (status, body["error"]["code"]) == (404, "actor_not_found")


async def b_lists_conflicts(world: World) -> None:
    assert await world.call(world.b, "GET", "/_mock/conflicts") == (200, {"conflicts": []})


async def b_lists_rejections(world: World) -> None:
    assert await world.call(world.b, "GET", "/_mock/rejected") == (200, {"rejected": []})


async def b_reads_stats(world: World) -> None:
    status, body = await world.call(world.b, "GET", "/_mock/stats")
    assert status == 200
    assert {name: body[name] for name in ZERO_STATS} == ZERO_STATS


async def b_reads_a_snapshot(world: World) -> None:
    for session, lines in ((world.a, 3), (world.b, 0)):
        for query in ("", f"?token={A}"):
            async with session.get(f"{world.url}/_mock/snapshot{query}") as response:
                assert response.status == 200
                assert (await response.text()).count("\n") == lines, query


async def b_resets(world: World) -> None:
    assert await world.call(world.b, "POST", "/_mock/reset") == (200, {"reset": True})


async def b_lists_faults(world: World) -> None:
    assert await world.call(world.b, "GET", "/_mock/faults") == (200, {"rules": []})


async def b_adds_a_fault_that_blocks_everything(world: World, before: View) -> None:
    status, rule = await world.call(world.b, "POST", "/_mock/faults", json=BLOCK_ALL)
    assert (status, rule["kind"], rule["status"]) == (201, "status", 503)
    # B's rule answers B...
    status, body = await world.call(world.b, "POST", "/event", json=B_EVENT)
    assert (status, body["error"]["code"]) == (503, "injected_fault")
    assert await world.view_of_a() == before
    # ...and never A.
    status, body = await world.call(world.a, "POST", "/event", json=A_EVENTS[0])
    assert status == 202
    stored = (await world.call(world.a, "GET", "/_mock/events?order=desc&limit=1"))[1]
    assert (stored["total"], stored["events"][0]["id"]) == (4, body["id"])


async def b_clears_faults(world: World) -> None:
    assert await world.call(world.b, "DELETE", "/_mock/faults") == (200, {"cleared": 0})


async def b_streams(world: World, before: View) -> None:
    """B's live feed never carries A's events: with B's stream open, A stores, then B does;
    B's first message is B's own."""
    async with world.b.get(f"{world.url}/_mock/stream") as stream:
        assert stream.status == 200
        await stream.content.readuntil(b": connected\n\n")
        assert await world.view_of_a() == before
        status, _ = await world.call(world.a, "POST", "/event", json=A_EVENTS[0])
        assert status == 202
        status, b_body = await world.call(world.b, "POST", "/event", json=B_EVENT)
        assert status == 202
        kind, data = await next_message(stream)
    assert (kind, data["id"], data["event"]) == ("stored", b_body["id"], B_EVENT)


View = dict[str, Any]
Probe = Callable[[World, View], Awaitable[None]]


def b_only(action: Callable[[World], Awaitable[None]]) -> Probe:
    """A probe where only B acts: afterwards A's view is exactly what it was."""

    async def probe(world: World, before: View) -> None:
        await action(world)
        assert await world.view_of_a() == before

    probe.__name__ = action.__name__
    return probe


PROBES: dict[tuple[str, str], Probe] = {
    ("POST", "/event"): b_only(b_posts_an_event),
    ("POST", "/events"): b_only(b_posts_a_batch),
    ("GET", "/_mock/events"): b_only(b_lists_events),
    ("GET", "/_mock/actor"): b_only(b_asks_for_an_actor),
    ("GET", "/_mock/actors"): b_only(b_lists_actors),
    ("GET", "/_mock/labels/history"): b_only(b_asks_for_a_label_history),
    ("GET", "/_mock/conflicts"): b_only(b_lists_conflicts),
    ("GET", "/_mock/rejected"): b_only(b_lists_rejections),
    ("GET", "/_mock/stats"): b_only(b_reads_stats),
    ("GET", "/_mock/snapshot"): b_only(b_reads_a_snapshot),
    ("POST", "/_mock/reset"): b_only(b_resets),
    ("GET", "/_mock/faults"): b_only(b_lists_faults),
    ("POST", "/_mock/faults"): b_adds_a_fault_that_blocks_everything,
    ("DELETE", "/_mock/faults"): b_only(b_clears_faults),
    ("GET", "/_mock/stream"): b_streams,
}
ROUTE_KEYS = sorted((route.method, route.path) for route in ROUTES)


def test_every_route_has_an_isolation_probe() -> None:
    """A route added to the table without a probe here fails: isolation is checked, never
    assumed."""
    assert sorted(PROBES) == [key for key in ROUTE_KEYS if key not in PUBLIC]


@pytest.mark.parametrize("route", sorted(PROBES), ids=[f"{m} {p}" for m, p in sorted(PROBES)])
async def test_another_token_cannot_see_or_touch_a_tenants_data(
    route: tuple[str, str], world: World
) -> None:
    before = await world.view_of_a()
    assert before["/_mock/stats"]["events"] == 3
    assert before["/_mock/stats"]["conflicts"] == 1
    assert before["/_mock/stats"]["rejected"] == 1
    assert before["/_mock/actor?userId=u_1"]["identifiers"] == {
        "anonymousId": ["a_9"], "userId": ["u_1"]}
    assert before["/_mock/faults"] == [("latency", True)]

    await PROBES[route](world, before)


async def test_the_header_token_wins_over_a_query_token(world: World) -> None:
    """B cannot borrow A's tenant by adding ?token=<A's token>: a header token always decides."""
    status, body = await world.call(world.b, "GET", "/_mock/stats", params={"token": A})
    assert status == 200
    assert {name: body[name] for name in ZERO_STATS} == ZERO_STATS
    async with ClientSession(headers={"Authorization": f"Bearer {B}"}) as bearer:
        status, body = await world.call(bearer, "GET", "/_mock/events", params={"token": A})
    assert (status, body) == (200, {"total": 0, "events": []})


async def test_tokens_that_differ_only_in_case_or_by_a_prefix_are_different_tenants(
    world: World
) -> None:
    for other in (A.upper(), A[:-1], A + "0", f"{A} {A}"):
        async with ClientSession(headers={"apiToken": other}) as session:
            status, body = await world.call(session, "GET", "/_mock/stats")
        assert status == 200
        assert {name: body[name] for name in ZERO_STATS} == ZERO_STATS, other


# -- strict mode: only the configured tokens, on every route ------------------------------------

UNKNOWN = "not-a-configured-token"
CREDENTIALS = {
    "apiToken": ({"apiToken": UNKNOWN}, None),
    "bearer": ({"Authorization": f"Bearer {UNKNOWN}"}, None),
    "query": ({}, {"token": UNKNOWN}),
    "none": ({}, None),
}


def _body_for(method: str, path: str) -> dict[str, Any]:
    if path == "/event":
        return {"json": make_event()}
    if path == "/events":
        return {"json": [make_event()]}
    if (method, path) == ("POST", "/_mock/faults"):
        return {"json": BLOCK_ALL}
    return {}


@pytest.mark.parametrize("credentials", CREDENTIALS.values(), ids=CREDENTIALS.keys())
async def test_strict_mode_refuses_unknown_and_missing_tokens_on_every_route(
    credentials: tuple[dict[str, str], dict[str, str] | None], start_mock: StartMock
) -> None:
    headers, query = credentials
    async with start_mock(tokens=frozenset({A, B})) as url, ClientSession() as http:
        answers = {}
        for method, path in ROUTE_KEYS:
            if (method, path) in PUBLIC:
                continue
            async with http.request(method, url + path, headers=headers, params=query,
                                    **_body_for(method, path)) as response:
                body = await response.json()
                answers[(method, path)] = (response.status, body["error"]["code"])
        async with ClientSession(headers={"apiToken": A}) as a:
            async with a.get(f"{url}/_mock/stats") as response:
                stats = await response.json()
            async with a.get(f"{url}/_mock/faults") as response:
                faults = await response.json()
    expected = {key: (401, "unauthorized") for key in ROUTE_KEYS if key not in PUBLIC}
    assert answers == expected
    assert (stats["events"], stats["rejected"], faults["rules"]) == (0, 0, [])


async def test_strict_mode_serves_each_configured_token_its_own_tenant(
    start_mock: StartMock
) -> None:
    async with (start_mock(tokens=frozenset({A, B})) as url,
                ClientSession(headers={"apiToken": A}) as a,
                ClientSession(headers={"apiToken": B}) as b):
        world = World(url, a, b)
        assert (await world.call(a, "POST", "/event", json=A_EVENTS[0]))[0] == 202
        counts = await asyncio.gather(
            world.call(a, "GET", "/_mock/stats"), world.call(b, "GET", "/_mock/stats"))
    assert [body["events"] for _, body in counts] == [1, 0]
