"""The Segment-compatible gateway over HTTP: a real gateway and a real mock, each on its own
ephemeral port; the gateway delivers to the mock with this test's token.

Waits are server-side: GET /_gateway/stats?min_<counter>=N&timeout=S and the mock's
GET /_mock/events?min_count=N&timeout=S (the helpers in gateway_helpers.py).
"""

from __future__ import annotations

import asyncio
import base64
import json
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import ClientSession, web

from connector.cli import main
from tests.e2e.gateway_helpers import (
    SUCCESS,
    ZERO,
    Json,
    T,
    by_json,
    counts,
    event,
    fast_delivery,
    gateway_stats,
    get,
    mock_events,
    mock_stats,
    post,
    refusing_socket,
    run_gateway,
    serve_event_handler,
    track,
)


@pytest.fixture
async def gateway_url(mock_url: str, token: str) -> AsyncIterator[str]:
    async with run_gateway(mock_url, token) as url:
        yield url


# -- the Tracking API ---------------------------------------------------------------------------


async def test_every_route_answers_exactly_200_and_identify_and_track_arrive_mapped(
    gateway_url: str, mock_url: str, http: ClientSession
) -> None:
    calls = [
        ("identify", {"userId": "u_1", "traits": {"plan": "pro", "seats": 3},
                      "messageId": "m-identify", "timestamp": T}),
        ("track", {"userId": "u_1", "event": "Order Completed", "messageId": "m-track",
                   "properties": {"revenue": 42.5, "currency": "EUR"}, "timestamp": T}),
        ("page", {"anonymousId": "a_1", "name": "Home", "messageId": "m-page"}),
        ("screen", {"anonymousId": "a_1", "name": "Cart", "messageId": "m-screen"}),
        ("group", {"userId": "u_1", "groupId": "g_1", "messageId": "m-group"}),
        ("alias", {"previousId": "a_1", "userId": "u_1", "messageId": "m-alias"}),
        ("batch", {"batch": [{"type": "track", "userId": "u_2", "event": "Signed Up",
                              "messageId": "m-batch", "timestamp": T}]}),
        ("import", {"batch": [{"type": "identify", "anonymousId": "a_3", "timestamp": T,
                               "traits": {"email": "x@y.z"}, "messageId": "m-import"}]}),
    ]
    for route, body in calls:
        assert await post(http, f"{gateway_url}/v1/{route}", body) == (200, SUCCESS)

    assert await gateway_stats(http, gateway_url, delivered=4, skipped=4) == counts(
        received=8, delivered=4, skipped=4)
    assert by_json(await mock_events(http, mock_url)) == by_json([
        event("identify", {"userId": "u_1"}, {"plan": "pro"}, {"seats": 3}),
        event("Order Completed", {"userId": "u_1"}, {"currency": "EUR"}, {"revenue": 42.5}),
        event("Signed Up", {"userId": "u_2"}),
        event("identify", {"anonymousId": "a_3"}, {"email": "x@y.z"}),
    ])
    status, page = await get(http, f"{gateway_url}/_gateway/messages/m-page")
    assert (status, page["state"], page["error"]) == (200, "skipped", {
        "code": "unsupported_message_type",
        "message": "the Pointillist destination takes identify and track only",
        "details": {"type": "page"}})


async def test_gzip_bodies_are_inflated(
    gateway_url: str, mock_url: str, http: ClientSession
) -> None:
    body = {"batch": [track("m-1"), track("m-2", "u_2")], "writeKey": "WK"}
    assert await post(http, f"{gateway_url}/v1/batch", body, compress=True) == (200, SUCCESS)
    assert await post(http, f"{gateway_url}/v1/track", track("m-3"), compress=True) == (
        200, SUCCESS)

    assert await gateway_stats(http, gateway_url, delivered=3) == counts(
        received=3, delivered=3)
    assert len(await mock_events(http, mock_url)) == 3


@pytest.mark.parametrize(("raw", "headers", "message"), [
    (b"{nope", {}, "Invalid JSON: Expecting property name enclosed in double quotes: "
                   "line 1 column 2 (char 1)"),
    (b"", {}, "Invalid JSON: the body is empty"),
    (b'[{"type": "track"}]', {}, "Invalid JSON: the body must be a JSON object"),
    (b'{"batch": {}}', {}, 'Invalid JSON: a batch body is {"batch": [message, ...]}'),
    (b"not gzip", {"Content-Encoding": "gzip"},
     "the body is not valid gzip data (Error -3 while decompressing data: incorrect header "
     "check)"),
    (b"{}", {"Content-Encoding": "br"},
     "Content-Encoding 'br' is not supported; send gzip or no encoding"),
])
async def test_unreadable_bodies_are_a_segment_400_and_store_nothing(
    gateway_url: str, http: ClientSession, raw: bytes, headers: dict[str, str], message: str
) -> None:
    answer = await post(http, f"{gateway_url}/v1/batch", raw=raw, **headers)
    assert answer == (400, {"code": "invalid_request", "message": message})
    assert await gateway_stats(http, gateway_url) == ZERO


def sized_track(size: int, message_id: str) -> bytes:
    """A /v1/track body of exactly `size` bytes."""
    body: Json = {"userId": "u_1", "event": "Big", "messageId": message_id,
                  "integrations": {"Pointillist": False}, "properties": {"p": ""}}
    body["properties"]["p"] = "x" * (size - len(json.dumps(body).encode()))
    data = json.dumps(body).encode()
    assert len(data) == size
    return data


def sized_batch(size: int, prefix: str) -> bytes:
    """A /v1/batch body of exactly `size` bytes, made of 17 messages of about 30 KB."""
    def message(n: int, pad: int) -> Json:
        return {"type": "track", "event": "Big", "userId": "u_1", "messageId": f"{prefix}-{n}",
                "integrations": {"Pointillist": False}, "properties": {"p": "x" * pad}}

    items = [message(n, 30_000) for n in range(17)]
    short = size - len(json.dumps({"batch": items}).encode())
    items[-1] = message(16, 30_000 + short)
    data = json.dumps({"batch": items}).encode()
    assert len(data) == size
    return data


async def test_size_limits_hold_at_the_exact_byte_plain_and_gzipped(
    gateway_url: str, http: ClientSession
) -> None:
    single, batch = f"{gateway_url}/v1/track", f"{gateway_url}/v1/batch"
    too_big_single = {"code": "invalid_request",
                      "message": "the request body is over the limit of 32768 bytes"}
    too_big_batch = {"code": "invalid_request",
                     "message": "the request body is over the limit of 512000 bytes"}

    assert await post(http, single, raw=sized_track(32_768, "s-1")) == (200, SUCCESS)
    assert await post(http, single, raw=sized_track(32_768, "s-2"), compress=True) == (
        200, SUCCESS)
    assert await post(http, single, raw=sized_track(32_769, "s-3")) == (400, too_big_single)
    assert await post(http, single, raw=sized_track(32_769, "s-4"), compress=True) == (
        400, too_big_single)
    assert await post(http, batch, raw=sized_batch(512_000, "b1")) == (200, SUCCESS)
    assert await post(http, batch, raw=sized_batch(512_000, "b2"), compress=True) == (
        200, SUCCESS)
    assert await post(http, batch, raw=sized_batch(512_001, "b3")) == (400, too_big_batch)
    assert await post(http, batch, raw=sized_batch(512_001, "b4"), compress=True) == (
        400, too_big_batch)
    assert (await gateway_stats(http, gateway_url))["received"] == 2 + 17 + 17


async def test_a_batch_message_over_32_kb_refuses_the_whole_request(
    gateway_url: str, http: ClientSession
) -> None:
    big: Json = track("big", properties={"p": ""})
    big["properties"]["p"] = "x" * (32_769 - len(json.dumps(big, separators=(",", ":"))))
    assert len(json.dumps(big, separators=(",", ":"))) == 32_769

    answer = await post(http, f"{gateway_url}/v1/batch", {"batch": [track("ok"), big]})

    assert answer == (400, {
        "code": "invalid_request",
        "message": "message 1 of the batch is 32769 bytes; the limit is 32768 bytes per message",
    })
    assert await gateway_stats(http, gateway_url) == ZERO


async def test_any_write_key_or_none_is_accepted_when_no_keys_are_configured(
    gateway_url: str, http: ClientSession
) -> None:
    url = f"{gateway_url}/v1/track"
    assert await post(http, url, track("m-1")) == (200, SUCCESS)
    assert await post(http, url, track("m-2"), Authorization="Basic YW55Og==") == (200, SUCCESS)
    assert await post(http, url, {**track("m-3"), "writeKey": "any"}) == (200, SUCCESS)
    assert (await gateway_stats(http, gateway_url))["received"] == 3


async def test_configured_write_keys_accept_basic_bearer_or_body_and_refuse_others(
    mock_url: str, token: str, http: ClientSession
) -> None:
    def basic(text: str) -> str:
        return "Basic " + base64.b64encode(text.encode()).decode()

    async with run_gateway(mock_url, token, write_keys=frozenset({"WK1", "WK2"})) as gateway:
        url = f"{gateway}/v1/batch"
        accepted = [
            ({"batch": [track("m-1")]}, {"Authorization": basic("WK1:")}),
            ({"batch": [track("m-2")]}, {"Authorization": basic("WK2")}),  # no colon
            ({"batch": [track("m-3")]}, {"Authorization": "Bearer WK1"}),
            ({"batch": [track("m-4")], "writeKey": "WK2"}, {}),
            ({"batch": [track("m-5")], "writeKey": "WK1"}, {"Authorization": "Bearer oauth"}),
        ]
        for body, headers in accepted:
            assert await post(http, url, body, **headers) == (200, SUCCESS)
        missing = await post(http, url, {"batch": [track("m-6")]})
        unknown = await post(http, url, {"batch": [track("m-7")], "writeKey": "WK9"},
                             Authorization=basic("WK8:"))

        assert missing == (401, {
            "code": "unauthorized",
            "message": "missing write key: send Authorization: Basic base64('<writeKey>:'), "
                       "a Bearer token, or writeKey in the body"})
        assert unknown == (401, {
            "code": "unauthorized",
            "message": "unknown write key: this gateway accepts only its configured keys"})
        assert await gateway_stats(http, gateway, delivered=5) == counts(
            received=5, delivered=5)
        status, stored = await get(http, f"{gateway}/_gateway/messages/m-4")
        assert status == 200
        assert "writeKey" not in stored["message"]  # a credential is never stored


async def test_batch_context_and_integrations_are_merged_into_every_message(
    gateway_url: str, mock_url: str, http: ClientSession
) -> None:
    body = {
        "batch": [
            track("m-1", context={"location": {"city": "Lyon"}}),
            track("m-2", "u_2"),
            track("m-3", "u_3", integrations={"Pointillist": True}),
        ],
        "context": {"location": {"city": "Paris", "country": "France"}},
        "integrations": {"All": False, "Pointillist": True},
    }
    assert await post(http, f"{gateway_url}/v1/batch", body) == (200, SUCCESS)
    off = {"batch": [track("m-4")], "integrations": {"Pointillist": False}}
    assert await post(http, f"{gateway_url}/v1/batch", off) == (200, SUCCESS)

    assert await gateway_stats(http, gateway_url, delivered=3, skipped=1) == counts(
        received=4, delivered=3, skipped=1)
    assert by_json(await mock_events(http, mock_url)) == by_json([
        event("Order Completed", {"userId": "u_1"},
              {"location.city": "Lyon", "location.country": "France"}),
        event("Order Completed", {"userId": "u_2"},
              {"location.city": "Paris", "location.country": "France"}),
        event("Order Completed", {"userId": "u_3"},
              {"location.city": "Paris", "location.country": "France"}),
    ])
    status, skipped = await get(http, f"{gateway_url}/_gateway/messages/m-4")
    assert (status, skipped["error"]["code"]) == (200, "disabled_in_integrations")


async def test_enrichment_receivedat_original_and_corrected_timestamp_and_generated_ids(
    mock_url: str, token: str, http: ClientSession
) -> None:
    received = datetime(2026, 11, 28, 12, 0, 0, 500_000, tzinfo=UTC)
    generated = iter(["gen-1", "gen-2"])
    async with run_gateway(mock_url, token, clock=lambda: received,
                           new_id=lambda: next(generated)) as gateway:
        body = {"batch": [
            {"type": "track", "event": "Skewed", "userId": "u_1",
             "timestamp": "2026-11-28T11:00:00.000+00:00"},  # the client clock is 1 h ahead
            {"type": "identify", "userId": "u_1", "timestamp": None, "traits": {}},
        ], "sentAt": "2026-11-28T11:00:10.000+00:00"}
        assert await post(http, f"{gateway}/v1/batch", body) == (200, SUCCESS)
        assert await gateway_stats(http, gateway, delivered=2) == counts(
            received=2, delivered=2)

        status, skewed = await get(http, f"{gateway}/_gateway/messages/gen-1")
        assert status == 200
        assert skewed == {
            "messageId": "gen-1", "state": "delivered", "receivedAt": "2026-11-28T12:00:00.500Z",
            "updatedAt": "2026-11-28T12:00:00.500Z", "attempts": 0, "error": None,
            "message": {
                "type": "track", "event": "Skewed", "userId": "u_1", "messageId": "gen-1",
                "receivedAt": "2026-11-28T12:00:00.500Z", "sentAt": "2026-11-28T11:00:10.000+00:00",
                "originalTimestamp": "2026-11-28T11:00:00.000+00:00",
                # 12:00:00.500 - (11:00:10 - 11:00:00)
                "timestamp": "2026-11-28T11:59:50.500Z",
            },
        }
        status, untimed = await get(http, f"{gateway}/_gateway/messages/gen-2")
        assert (status, untimed["message"]["timestamp"]) == (200, "2026-11-28T12:00:00.500Z")
        assert by_json(await mock_events(http, mock_url)) == by_json([
            event("Skewed", {"userId": "u_1"}, event_time="2026-11-28T11:59:50.500Z"),
            event("identify", {"userId": "u_1"}, event_time="2026-11-28T12:00:00.500Z"),
        ])


async def test_a_repeated_message_id_is_answered_200_and_delivered_once(
    gateway_url: str, mock_url: str, http: ClientSession
) -> None:
    url = f"{gateway_url}/v1/batch"
    assert await post(http, url, {"batch": [track("m-1"), track("m-1")]}) == (200, SUCCESS)
    assert await post(http, url, {"batch": [track("m-1"), track("m-2")]}) == (200, SUCCESS)
    assert await post(http, f"{gateway_url}/v1/track", track("m-2")) == (200, SUCCESS)

    assert await gateway_stats(http, gateway_url, delivered=2) == counts(
        received=5, deduplicated=3, delivered=2)
    assert len(await mock_events(http, mock_url)) == 2


async def test_messages_segment_would_drop_are_answered_200_and_listed_with_the_reason(
    gateway_url: str, mock_url: str, http: ClientSession
) -> None:
    body = {"batch": [
        {"type": "track", "userId": "u_1", "messageId": "d-1", "timestamp": T},
        {"type": "identify", "userId": None, "anonymousId": "", "messageId": "d-2"},
        "junk",
        track("m-1"),
    ]}
    assert await post(http, f"{gateway_url}/v1/batch", body) == (200, SUCCESS)
    assert await post(http, f"{gateway_url}/v1/track", {"userId": "u_1", "messageId": "d-3"}) == (
        200, SUCCESS)

    assert await gateway_stats(http, gateway_url, delivered=1) == counts(
        received=5, dropped=4, delivered=1)
    status, listed = await get(http, f"{gateway_url}/_gateway/dropped")
    assert status == 200
    assert (listed["total"], listed["kept"]) == (4, 4)
    assert [(d["messageId"], d["reason"], d["detail"]) for d in listed["dropped"]] == [
        ("d-3", "missing_event", "a track needs an event name"),
        (None, "not_an_object", "a batch item is a str"),
        ("d-2", "no_user_anon_id", "a message needs a userId or an anonymousId"),
        ("d-1", "missing_event", "a track needs an event name"),
    ]
    assert listed["dropped"][1]["message"] == "junk"
    assert listed["dropped"][3]["message"]["originalTimestamp"] == T
    status, found = await get(http, f"{gateway_url}/_gateway/messages/d-2")
    assert (status, found["state"], found["reason"]) == (200, "dropped", "no_user_anon_id")
    assert len(await mock_events(http, mock_url)) == 1


async def test_a_batch_over_2500_messages_is_answered_200_and_every_message_dropped(
    gateway_url: str, http: ClientSession
) -> None:
    items = [{"type": "track", "event": "E", "userId": "u", "messageId": f"m-{n}"}
             for n in range(2501)]
    assert await post(http, f"{gateway_url}/v1/batch", {"batch": items}) == (200, SUCCESS)
    assert await gateway_stats(http, gateway_url) == counts(received=2501, dropped=2501)
    status, listed = await get(http, f"{gateway_url}/_gateway/dropped", limit=2)
    assert status == 200
    assert (listed["total"], listed["kept"]) == (2501, 1000)  # dropped_kept
    assert [(d["messageId"], d["reason"], d["detail"]) for d in listed["dropped"]] == [
        (f"m-{n}", "too_many_messages", "the batch has 2501 messages; the limit is 2500")
        for n in (2500, 2499)]


# -- delivery: retries, dead letters, order ----------------------------------------------------


@dataclass
class Proxy:
    """A real server in front of the mock: each request takes the next scripted step
    ("reject": a 400; "store-then-drop": forward, then close the connection unanswered),
    then forwards."""

    upstream: str
    session: ClientSession
    script: list[str] = field(default_factory=list)
    keys: list[str | None] = field(default_factory=list)  # Idempotency-Key of every request

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.keys.append(request.headers.get("Idempotency-Key"))
        step = self.script.pop(0) if self.script else "forward"
        if step == "reject":
            error = {"code": "invalid_payload", "message": "refused by the test proxy"}
            return web.json_response({"error": {**error, "details": {}}}, status=400)
        names = ("apiToken", "Content-Type", "Idempotency-Key")
        headers = {name: request.headers[name] for name in names if name in request.headers}
        async with self.session.post(f"{self.upstream}/event", data=body,
                                     headers=headers) as answer:
            text = await answer.text()
        if step == "store-then-drop":
            assert request.transport is not None
            request.transport.close()
        return web.Response(status=answer.status, text=text, content_type="application/json")


@asynccontextmanager
async def run_proxy(upstream: str, script: list[str]) -> AsyncIterator[tuple[Proxy, str]]:
    async with ClientSession() as session:
        proxy = Proxy(upstream, session, list(script))
        async with serve_event_handler(proxy.handle) as url:
            yield proxy, url


async def test_a_retried_delivery_is_stored_once_thanks_to_the_idempotency_key(
    mock_url: str, token: str, http: ClientSession
) -> None:
    async with run_proxy(mock_url, ["store-then-drop"]) as (proxy, proxy_url), \
            run_gateway(proxy_url, token) as gateway:
        assert await post(http, f"{gateway}/v1/track", track("m-1")) == (200, SUCCESS)

        assert await gateway_stats(http, gateway, delivered=1) == counts(
            received=1, delivered=1)
        assert proxy.keys == ["m-1", "m-1"]  # the first answer was lost: sent again
        assert await mock_events(http, mock_url) == [
            event("Order Completed", {"userId": "u_1"})]
        assert (await mock_stats(http, mock_url))["idempotentReplays"] == 1


async def test_failed_deliveries_are_dead_letters_with_their_last_error_and_can_be_redriven(
    mock_url: str, token: str, http: ClientSession
) -> None:
    async with run_proxy(mock_url, ["reject", "reject"]) as (_, proxy_url), \
            run_gateway(proxy_url, token) as gateway:
        body = {"batch": [track("m-1"), track("m-2", "u_2"),
                          {"type": "identify", "userId": "u_3", "traits": "x",
                           "messageId": "m-bad"}]}
        assert await post(http, f"{gateway}/v1/batch", body) == (200, SUCCESS)
        assert await gateway_stats(http, gateway, deadLettered=3) == counts(
            received=3, deadLettered=3)

        status, listed = await get(http, f"{gateway}/_gateway/deadletter")
        assert status == 200
        assert listed["total"] == 3
        assert [(m["messageId"], m["attempts"], m["error"]) for m in listed["messages"]] == [
            ("m-1", 1, {"code": "invalid_payload", "message": "refused by the test proxy",
                        "details": {"status": 400, "retryable": False}}),
            ("m-2", 1, {"code": "invalid_payload", "message": "refused by the test proxy",
                        "details": {"status": 400, "retryable": False}}),
            ("m-bad", 0, {"code": "invalid_type", "message": "traits must be an object",
                          "details": {"field": "traits"}}),
        ]
        assert listed["messages"][0]["message"]["messageId"] == "m-1"

        one = await post(http, f"{gateway}/_gateway/deadletter/redrive",
                         {"messageIds": ["m-1", "nope"]})
        assert one == (200, {"redriven": 1, "notFound": ["nope"]})
        assert await gateway_stats(http, gateway, delivered=1) == counts(
            received=3, delivered=1, deadLettered=2)
        every = await post(http, f"{gateway}/_gateway/deadletter/redrive", raw=b"")
        assert every == (200, {"redriven": 2, "notFound": []})
        # m-bad cannot map however often it is tried: a dead letter again.
        assert await gateway_stats(http, gateway, delivered=2, deadLettered=1) == counts(
            received=3, delivered=2, deadLettered=1)
        assert by_json(await mock_events(http, mock_url)) == by_json([
            event("Order Completed", {"userId": "u_1"}),
            event("Order Completed", {"userId": "u_2"}),
        ])


async def test_retryable_failures_become_dead_letters_after_the_retry_budget(
    token: str, http: ClientSession
) -> None:
    with refusing_socket() as sock:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        delivery = fast_delivery(url, token, max_retries=2)
        async with run_gateway(url, token, delivery=delivery) as gateway:
            assert await post(http, f"{gateway}/v1/track", track("m-1")) == (200, SUCCESS)

            assert await gateway_stats(http, gateway, deadLettered=1) == counts(
                received=1, deadLettered=1)
            status, listed = await get(http, f"{gateway}/_gateway/deadletter")
            assert status == 200
            dead = listed["messages"][0]
            assert (dead["attempts"], dead["error"]["code"], dead["error"]["details"]) == (
                3, "connect_failed", {"status": None, "retryable": True})


async def test_each_actors_events_arrive_in_the_order_they_were_accepted(
    gateway_url: str, mock_url: str, http: ClientSession
) -> None:
    for start in range(0, 60, 20):
        items = [track(f"m-{n}", f"u_{n % 3}", properties={"n": n}) for n in range(start,
                                                                                 start + 20)]
        assert await post(http, f"{gateway_url}/v1/batch", {"batch": items}) == (200, SUCCESS)

    assert await gateway_stats(http, gateway_url, delivered=60) == counts(
        received=60, delivered=60)
    orders: dict[str, list[int]] = {}
    for stored in await mock_events(http, mock_url):
        orders.setdefault(stored["actors"]["Customer"]["userId"], []).append(
            stored["numbers"]["n"])
    assert orders == {f"u_{a}": list(range(a, 60, 3)) for a in range(3)}


# -- administration -----------------------------------------------------------------------------


async def test_the_stats_wait_returns_at_its_timeout_when_unmet(
    gateway_url: str, http: ClientSession
) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    status, stats = await get(http, f"{gateway_url}/_gateway/stats", min_delivered=1,
                              timeout=0.3)
    assert (status, stats) == (200, {**ZERO, "waitSatisfied": False})
    assert loop.time() - started >= 0.3


STATS_PARAMETERS = ["max_pending", "min_deadLettered", "min_deduplicated", "min_delivered",
                    "min_dropped", "min_labelsLeftOut", "min_loneSurrogatesRefused", "min_pending",
                    "min_received", "min_skipped", "timeout"]


@pytest.mark.parametrize(("method", "path", "body", "status", "error"), [
    ("GET", "/_gateway/stats?min_deliverd=1", None, 400, {
        "code": "invalid_query",
        "message": 'unknown query parameter "min_deliverd"; this route takes: '
                   + ", ".join(STATS_PARAMETERS),
        "details": {"parameter": "min_deliverd", "accepted": STATS_PARAMETERS}}),
    ("GET", "/_gateway/stats?min_delivered=1&timeout=soon", None, 400, {
        "code": "invalid_query", "message": "timeout must be a number of seconds, not 'soon'",
        "details": {}}),
    ("GET", "/_gateway/stats?wait=1", None, 400, {
        "code": "invalid_query",
        "message": 'unknown query parameter "wait"; this route takes: '
                   + ", ".join(STATS_PARAMETERS),
        "details": {"parameter": "wait", "accepted": STATS_PARAMETERS}}),
    ("GET", "/_gateway/dropped?limit=-1", None, 400, {
        "code": "invalid_query", "message": "limit must be between 0 and 10000, not -1",
        "details": {}}),
    ("GET", "/_gateway/messages/nope", None, 404, {
        "code": "not_found", "message": "no message 'nope' in the outbox or the dropped list",
        "details": {"messageId": "nope"}}),
    ("POST", "/_gateway/deadletter/redrive", b'{"messageIds": "m-1"}', 400, {
        "code": "invalid_body", "message": "messageIds must be an array of strings",
        "details": {}}),
    ("POST", "/_gateway/deadletter/redrive", b'{"ids": []}', 400, {
        "code": "invalid_body",
        "message": 'the body is {} (every dead letter) or {"messageIds": [...]}',
        "details": {}}),
    ("POST", "/_gateway/deadletter/redrive", b"{", 400, {
        "code": "invalid_body",
        "message": "Invalid JSON: Expecting property name enclosed in double quotes: line 1 "
                   "column 2 (char 1)",
        "details": {}}),
    ("GET", "/nowhere", None, 404, {
        "code": "not_found", "message": "no route for GET /nowhere", "details": {}}),
])
async def test_admin_errors_are_json_error_bodies(
    gateway_url: str, http: ClientSession, method: str, path: str, body: bytes | None,
    status: int, error: Json,
) -> None:
    headers = {"Content-Type": "application/json"} if body is not None else None
    async with http.request(method, gateway_url + path, data=body, headers=headers) as response:
        assert (response.status, await response.json()) == (status, {"error": error})


async def test_tracking_api_routing_errors_use_segments_error_shape(
    gateway_url: str, http: ClientSession
) -> None:
    async with http.get(f"{gateway_url}/v1/batch") as response:
        assert (response.status, response.headers["Allow"], await response.json()) == (
            405, "POST", {"code": "method_not_allowed",
                          "message": "GET is not allowed on /v1/batch; use POST"})
    assert await post(http, f"{gateway_url}/v1/identity", {}) == (404, {
        "code": "not_found", "message": "no route for POST /v1/identity"})


async def test_health(gateway_url: str, http: ClientSession) -> None:
    assert await get(http, f"{gateway_url}/_gateway/health") == (200, {"status": "ok"})


# -- the command line ---------------------------------------------------------------------------


def test_the_cli_refuses_bad_settings_with_exit_status_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = main(["gateway", "--port", "0", "--pointillist-url", "ftp://x",
                   "--pointillist-token", "t", "--outbox", ":memory:"])
    assert status == 2
    assert capsys.readouterr().err == (
        "segment-connector gateway: url must be an http:// or https:// URL, not 'ftp://x'\n")


def test_the_cli_refuses_an_outbox_another_gateway_holds_with_exit_status_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "outbox.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("PRAGMA locking_mode = EXCLUSIVE")
        holder.execute("PRAGMA journal_mode = WAL")
        holder.execute("BEGIN IMMEDIATE")  # held until closed, as a running gateway holds it
        status = main(["gateway", "--port", "0", "--pointillist-url", "http://127.0.0.1:1",
                       "--pointillist-token", "t", "--outbox", str(path)])
    finally:
        holder.close()
    assert status == 1
    assert capsys.readouterr().err == (
        f"segment-connector gateway: the outbox {path} is in use by another gateway "
        "(one file, one gateway)\n")
