"""GET /_mock/stream over HTTP: stored events, rejections and resets arrive live, scoped to the
token; heartbeats keep it open; a closed connection and an app shutdown end the subscription."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import ClientSession, web

from mockserver.http import stream
from mockserver.http.stream import FEED, Feed
from mockserver.state.store import tenant_key
from tests.conftest import StartMock, make_event
from tests.helpers.sse import WAIT, next_message

PREAMBLE = b"retry: 1000\n: connected\n\n"


async def test_the_stream_is_an_event_stream_that_starts_with_its_retry_delay(
    mock_url: str, http: ClientSession
) -> None:
    async with http.get(f"{mock_url}/_mock/stream") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/event-stream; charset=utf-8"
        assert response.headers["Cache-Control"] == "no-cache"
        assert await response.content.readexactly(len(PREAMBLE)) == PREAMBLE


async def test_a_stored_event_arrives_as_the_stored_record(
    mock_url: str, http: ClientSession
) -> None:
    event = make_event(eventTime="2026-11-28T11:00:00+01:00")
    async with http.get(f"{mock_url}/_mock/stream") as response:
        async with http.post(f"{mock_url}/event", json=event) as posted:
            assert posted.status == 202
            event_id = (await posted.json())["id"]
        kind, data = await next_message(response)
    async with http.get(f"{mock_url}/_mock/events") as listed:
        stored = (await listed.json())["events"]
    assert kind == "stored"
    assert data == stored[0]
    assert data["id"] == event_id
    assert data["eventTime"] == "2026-11-28T10:00:00.000Z"
    assert data["event"] == event


async def test_a_stored_event_carries_its_idempotency_key(
    mock_url: str, http: ClientSession
) -> None:
    async with http.get(f"{mock_url}/_mock/stream") as response:
        async with http.post(f"{mock_url}/event", json=make_event(),
                             headers={"Idempotency-Key": "msg-42"}) as posted:
            assert posted.status == 202
        kind, data = await next_message(response)
    assert (kind, data["idempotencyKey"]) == ("stored", "msg-42")


async def test_a_batch_arrives_as_one_message_per_event_in_order(
    mock_url: str, http: ClientSession
) -> None:
    events = [make_event(eventType=f"Step {n}") for n in range(3)]
    async with http.get(f"{mock_url}/_mock/stream") as response:
        async with http.post(f"{mock_url}/events", json=events) as posted:
            ids = (await posted.json())["ids"]
        received = [await next_message(response) for _ in events]
    assert [kind for kind, _ in received] == ["stored"] * 3
    assert [data["id"] for _, data in received] == ids
    assert [data["event"]["eventType"] for _, data in received] == ["Step 0", "Step 1", "Step 2"]


async def test_a_rejection_arrives_with_its_reasons(mock_url: str, http: ClientSession) -> None:
    async with http.get(f"{mock_url}/_mock/stream") as response:
        async with http.post(f"{mock_url}/event", json={"eventType": "x"}) as posted:
            assert posted.status == 400
        kind, data = await next_message(response)
    async with http.get(f"{mock_url}/_mock/rejected") as listed:
        kept = (await listed.json())["rejected"]
    assert kind == "rejected"
    assert data == kept[0]
    assert (data["status"], data["code"], data["path"]) == (400, "invalid_payload", "/event")
    assert {v["path"] for v in data["violations"]} == {"$.actors", "$.eventTime"}
    assert data["bodyExcerpt"] == '{"eventType": "x"}'


async def test_a_request_to_no_route_arrives_as_a_rejection(
    mock_url: str, http: ClientSession
) -> None:
    async with http.get(f"{mock_url}/_mock/stream") as response:
        async with http.post(f"{mock_url}/evnet", json=make_event()) as posted:
            assert posted.status == 404
        kind, data = await next_message(response)
    assert kind == "rejected"
    assert (data["status"], data["code"], data["path"]) == (404, "not_found", "/evnet")


async def test_a_reset_arrives(mock_url: str, http: ClientSession) -> None:
    async with http.get(f"{mock_url}/_mock/stream") as response:
        async with http.post(f"{mock_url}/_mock/reset") as reset:
            assert reset.status == 200
        assert await next_message(response) == ("reset", {})


async def test_a_stream_sees_only_its_own_tenant(mock_url: str, http: ClientSession) -> None:
    async with ClientSession(headers={"apiToken": "someone-else"}) as other, \
            http.get(f"{mock_url}/_mock/stream") as mine, \
            other.get(f"{mock_url}/_mock/stream") as theirs:
        # Theirs first: had it leaked into my stream, it would be the first message there.
        async with other.post(f"{mock_url}/event", json=make_event(eventType="Theirs")):
            pass
        async with other.post(f"{mock_url}/event", json={"eventType": "theirs"}):
            pass
        async with http.post(f"{mock_url}/event", json=make_event(eventType="Mine")):
            pass
        kind, data = await next_message(mine)
        assert (kind, data["event"]["eventType"]) == ("stored", "Mine")
        kind, data = await next_message(theirs)
        assert (kind, data["event"]["eventType"]) == ("stored", "Theirs")
        kind, data = await next_message(theirs)
        assert (kind, data["bodyExcerpt"]) == ("rejected", '{"eventType": "theirs"}')


async def test_the_token_may_be_given_in_the_query_as_eventsource_must(
    mock_url: str, token: str
) -> None:
    async with ClientSession() as anonymous, \
            anonymous.get(f"{mock_url}/_mock/stream", params={"token": token}) as response, \
            ClientSession(headers={"apiToken": token}) as http:
        async with http.post(f"{mock_url}/event", json=make_event(eventType="Via query")):
            pass
        kind, data = await next_message(response)
    assert (kind, data["event"]["eventType"]) == ("stored", "Via query")


async def test_without_a_token_the_stream_is_a_json_401(mock_url: str) -> None:
    async with ClientSession() as anonymous, \
            anonymous.get(f"{mock_url}/_mock/stream") as response:
        assert response.status == 401
        assert (await response.json())["error"]["code"] == "unauthorized"


async def test_an_unknown_token_is_401_when_the_mock_has_a_token_list(
    start_mock: StartMock
) -> None:
    async with start_mock(tokens=frozenset({"known"})) as url, ClientSession() as client:
        async with client.get(f"{url}/_mock/stream", params={"token": "unknown"}) as refused:
            assert refused.status == 401
            assert (await refused.json())["error"]["code"] == "unauthorized"
        async with client.get(f"{url}/_mock/stream", params={"token": "known"}) as accepted:
            assert accepted.status == 200


async def test_a_quiet_stream_sends_heartbeat_comments(
    mock_url: str, http: ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream, "HEARTBEAT_SECONDS", 0.05)
    monkeypatch.setattr(stream, "LIVENESS_SECONDS", 0.01)
    async with http.get(f"{mock_url}/_mock/stream") as response:
        async with asyncio.timeout(WAIT):
            assert await response.content.readexactly(len(PREAMBLE)) == PREAMBLE
            assert await response.content.readline() == b": heartbeat\n"
            assert await response.content.readline() == b"\n"


async def test_a_closed_connection_ends_its_subscription(
    start_mock: StartMock, apps: list[web.Application], token: str, http: ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stream, "LIVENESS_SECONDS", 0.05)  # 1 s in earnest: a faster test
    async with start_mock() as url:
        feed = apps[0][FEED]
        tenant = tenant_key(token)
        first = await http.get(f"{url}/_mock/stream")
        second = await http.get(f"{url}/_mock/stream")
        assert feed.listeners(tenant) == 2
        first.close()  # the connection goes away, as when a tab is closed
        assert await feed.wait_for_listeners(tenant, 1, WAIT)
        second.close()
        assert await feed.wait_for_listeners(tenant, 0, WAIT)


async def test_shutting_down_ends_open_streams_instead_of_waiting_for_them(
    start_mock: StartMock, http: ClientSession
) -> None:
    running = start_mock()
    url = await running.__aenter__()
    response = await http.get(f"{url}/_mock/stream")
    # aiohttp would wait up to 60 s for open handlers; the mock ends its streams on shutdown.
    async with asyncio.timeout(WAIT):
        await running.__aexit__(None, None, None)
        assert await response.content.read() == PREAMBLE  # then the end of the stream
    response.release()


# -- the feed itself -----------------------------------------------------------------------------


async def test_a_subscriber_that_falls_behind_is_dropped_and_the_others_keep_going() -> None:
    message = len(b'event: stored\ndata: {"n":1}\n\n')
    feed = Feed(queue_limit=2 * message)  # bytes: two such messages
    with feed.subscribe("t") as slow, feed.subscribe("t") as quick:
        feed.publish("t", "stored", {"n": 1})
        assert await quick.next(0) == [b'event: stored\ndata: {"n":1}\n\n']
        feed.publish("t", "stored", {"n": 2})
        assert slow.pending_bytes == 2 * message
        feed.publish("t", "stored", {"n": 3})  # slow would hold 3 messages' bytes: dropped
        assert (slow.closed, slow.reason) == (True, "overflow")
        assert await slow.next(0) == []
        assert feed.listeners("t") == 1
        assert await quick.next(0) == [b'event: stored\ndata: {"n":2}\n\n',
                                       b'event: stored\ndata: {"n":3}\n\n']
    assert feed.listeners("t") == 0


async def test_publishing_reaches_only_the_tenants_subscribers_and_costs_nothing_unheard() -> None:
    feed = Feed()
    with feed.subscribe("a") as a:
        feed.publish("b", "stored", {"n": 1})
        feed.publish("a", "reset", {})
        assert await a.next(0) == [b"event: reset\ndata: {}\n\n"]


async def test_closing_the_feed_ends_every_subscription_and_refuses_new_ones() -> None:
    feed = Feed()
    with feed.subscribe("a") as a, feed.subscribe("b") as b:
        feed.close()
        assert (a.closed, a.reason, b.closed, b.reason) == (True, "shutdown", True, "shutdown")
        assert (feed.listeners("a"), feed.listeners("b")) == (0, 0)
        with feed.subscribe("a") as late:
            assert (late.closed, late.reason, feed.listeners("a")) == (True, "shutdown", 0)
