"""The official segment-analytics-python client (from PyPI), pointed at the gateway.

`Client(write_key, host=<gateway URL>)` posts to {host}/v1/batch exactly as it posts to
Segment's cloud. Its calls block (a `requests` session; in sync_mode the call itself posts), so
they run off the event loop that serves the gateway and the mock: `asyncio.to_thread`. Nothing
waits on the client's background thread with a sleep: `shutdown()` flushes its queue and joins
the thread, and delivery is awaited server-side (GET /_gateway/stats?min_delivered=...).

identify and track are the golden cases `identify/python-client-shape.json` and
`track/python-client-shape.json`, played through the client: what the client sends must be the
case's input, and what the mock stores must be the case's event, with eventTime the
clock-skew corrected timestamp (the gateway's clock is pinned far from the client's, so the
correction is large and visible).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import ClientSession
from segment.analytics import Client
from segment.analytics.request import APIError
from segment.analytics.version import VERSION

from tests.contract.golden import GoldenCase, assert_same_json, load_cases
from tests.e2e.gateway_helpers import (
    by_json,
    counts,
    gateway_stats,
    get,
    mock_events,
    run_gateway,
)

WRITE_KEY = "WK-python"
RECEIVED_AT = datetime(2030, 1, 1, 0, 0, 0, 250_000, tzinfo=UTC)  # the gateway's clock
CASES = {case.id: case for case in load_cases()}
IDENTIFY = CASES["identify/python-client-shape.json"]
TRACK = CASES["track/python-client-shape.json"]
SKIPPED = {"m-page": "page", "m-screen": "screen", "m-group": "group", "m-alias": "alias"}
ENRICHMENT = ("receivedAt", "sentAt", "originalTimestamp", "timestamp")


def common_args(case: GoldenCase) -> dict[str, Any]:
    """The client arguments that make it send the case's input."""
    message = case.message
    context = {k: v for k, v in message["context"].items() if k != "library"}  # it adds that
    return {
        "user_id": message["userId"], "anonymous_id": message["anonymousId"],
        "context": context, "integrations": dict(message["integrations"]),
        "timestamp": datetime.fromisoformat(message["timestamp"]),
        "message_id": message["messageId"],
    }


def calls(client: Client) -> list[tuple[Callable[..., Any], dict[str, Any]]]:
    """identify and track (the golden cases), then page, screen, group and alias."""
    return [
        (client.identify, {**common_args(IDENTIFY), "traits": dict(IDENTIFY.message["traits"])}),
        (client.track, {**common_args(TRACK), "event": TRACK.message["event"],
                        "properties": dict(TRACK.message["properties"])}),
        (client.page, {"anonymous_id": "a1", "name": "Home", "properties": {"path": "/"},
                       "message_id": "m-page"}),
        (client.screen, {"user_id": "u1", "name": "Cart", "message_id": "m-screen"}),
        (client.group, {"user_id": "u1", "group_id": "g1", "traits": {"name": "Initech"},
                        "message_id": "m-group"}),
        (client.alias, {"previous_id": "a1", "user_id": "u1", "message_id": "m-alias"}),
    ]


async def send_all(client: Client, sync_mode: bool) -> None:
    for call, kwargs in calls(client):
        if sync_mode:  # the call itself posts: off the loop
            queued, _ = await asyncio.to_thread(call, **kwargs)
        else:  # the call only queues; shutdown() flushes and joins the consumer thread
            queued, _ = call(**kwargs)
        assert queued is True
    if not sync_mode:
        await asyncio.to_thread(client.shutdown)


def millis(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def iso(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


@pytest.mark.parametrize("sync_mode", [False, True], ids=["queued", "sync_mode"])
@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
async def test_the_python_client_reaches_the_gateway_and_its_events_the_mock(
    mock_url: str, token: str, http: ClientSession, gzip: bool, sync_mode: bool
) -> None:
    errors: list[Exception] = []
    async with run_gateway(mock_url, token, clock=lambda: RECEIVED_AT,
                           write_keys=frozenset({WRITE_KEY})) as gateway:
        client = Client(WRITE_KEY, host=gateway, gzip=gzip, sync_mode=sync_mode, max_retries=0,
                        upload_interval=0.1, on_error=lambda error, batch: errors.append(error))
        before = datetime.now(UTC)
        await send_all(client, sync_mode)
        after = datetime.now(UTC)

        assert errors == []
        assert await gateway_stats(http, gateway, delivered=2, skipped=4) == counts(
            received=6, delivered=2, skipped=4)
        expected_events = []
        for case in (IDENTIFY, TRACK):
            status, stored = await get(http, f"{gateway}/_gateway/messages/"
                                             f"{case.message['messageId']}")
            assert (status, stored["state"]) == (200, "delivered")
            message = dict(stored["message"])
            received_at, sent_at, original, corrected = (message.pop(k) for k in ENRICHMENT)
            # What the client sent is exactly the golden case's input (written from 2.4.0; the
            # library version is the installed client's) ...
            library = {"name": "analytics-python", "version": VERSION}
            sent_input = {**case.message, "context": {**case.message["context"],
                                                      "library": library}}
            assert_same_json({**message, "timestamp": original}, sent_input)
            # ... and the gateway added what Segment's servers add.
            assert received_at == "2030-01-01T00:00:00.250Z"
            sent = datetime.fromisoformat(sent_at)
            assert before <= sent <= after
            when = datetime.fromisoformat(original)
            assert corrected == iso(millis(RECEIVED_AT) - (millis(sent) - millis(when)))
            expected_events.append({**case.expected_event, "eventTime": corrected})

        stored_events = await mock_events(http, mock_url)
        assert_same_json(by_json(stored_events), by_json(expected_events))
        for message_id, kind in SKIPPED.items():
            status, skipped = await get(http, f"{gateway}/_gateway/messages/{message_id}")
            assert (status, skipped["state"], skipped["error"]["code"],
                    skipped["error"]["details"]) == (
                200, "skipped", "unsupported_message_type", {"type": kind})
            assert skipped["message"]["type"] == kind


@pytest.mark.parametrize("sync_mode", [False, True], ids=["queued", "sync_mode"])
async def test_the_python_client_reads_the_gateways_401_as_a_segment_api_error(
    mock_url: str, token: str, http: ClientSession, sync_mode: bool
) -> None:
    errors: list[tuple[Exception, list[Any]]] = []
    async with run_gateway(mock_url, token, write_keys=frozenset({WRITE_KEY})) as gateway:
        client = Client("WK-wrong", host=gateway, sync_mode=sync_mode, max_retries=0,
                        upload_interval=0.1,
                        on_error=lambda error, batch: errors.append((error, batch)))
        if sync_mode:
            with pytest.raises(APIError) as caught:
                await asyncio.to_thread(client.track, "u1", "Order Completed",
                                        message_id="m-1")
            error: Exception = caught.value
        else:
            client.track("u1", "Order Completed", message_id="m-1")
            await asyncio.to_thread(client.shutdown)
            assert [[m["messageId"] for m in batch] for _, batch in errors] == [["m-1"]]
            error = errors[0][0]

        assert isinstance(error, APIError)
        assert (error.status, error.code, error.message) == (
            401, "unauthorized",
            "unknown write key: this gateway accepts only its configured keys")
        assert await gateway_stats(http, gateway) == counts()


# A 6 KB string property, the size of analytics-next's large-payload fixture; numbered cells so
# that a cut anywhere would show.
SIX_KB = "".join(f"cell-{n:04d}|" for n in range(1, 615)) + "end."
# An ordinary cart: 24 lines in `products`, the shape of Segment's ecommerce spec.
CART = [
    {"product_id": f"p-{n:02d}", "sku": f"SKU-{n:04d}", "category": "Games",
     "name": f"Board game no. {n}", "brand": "Hasbro", "variant": "standard",
     "price": 10 + n + 0.99, "quantity": n % 3 + 1, "coupon": "SPRING", "position": n,
     "url": f"https://shop.example.com/products/p-{n:02d}",
     "image_url": f"https://cdn.example.com/products/p-{n:02d}.jpg"}
    for n in range(1, 25)
]


async def test_a_6_kb_property_and_a_24_line_cart_arrive_intact_through_the_python_client(
    mock_url: str, token: str, http: ClientSession
) -> None:
    assert (len(SIX_KB), SIX_KB[:10], SIX_KB[-10:]) == (6144, "cell-0001|", "-0614|end.")
    errors: list[Exception] = []
    async with run_gateway(mock_url, token, write_keys=frozenset({WRITE_KEY})) as gateway:
        client = Client(WRITE_KEY, host=gateway, max_retries=0, upload_interval=0.1,
                        on_error=lambda error, batch: errors.append(error))
        client.track("u_large", "Large Payload", {"blob": SIX_KB, "size": 6144},
                     message_id="m-6kb")
        client.track("u_cart", "Order Completed",
                     {"order_id": "o-24", "revenue": 407.76, "products": CART},
                     message_id="m-cart")
        await asyncio.to_thread(client.shutdown)  # flushes the queue and joins its thread

        assert errors == []
        assert await gateway_stats(http, gateway, delivered=2) == counts(
            received=2, delivered=2)
        corrected = {}
        for message_id in ("m-6kb", "m-cart"):
            status, stored = await get(http, f"{gateway}/_gateway/messages/{message_id}")
            assert (status, stored["state"], stored["error"]) == (200, "delivered", None)
            assert "labelsLeftOut" not in stored
            corrected[message_id] = stored["message"]["timestamp"]
        status, dead = await get(http, f"{gateway}/_gateway/deadletter")
        assert (status, dead) == (200, {"total": 0, "messages": []})

    # The products array is one label, JSON-encoded compactly (mapping rules), 6,823 characters:
    # over the 4,096 the mock used to allow, far under its 32,768.
    products = json.dumps(CART, ensure_ascii=False, separators=(",", ":"))
    assert (len(products), products[:57]) == (
        6823, '[{"product_id":"p-01","sku":"SKU-0001","category":"Games"')
    assert await mock_events(http, mock_url, min_count=2) == [
        {"eventSource": "Segment", "eventType": "Large Payload",
         "eventTime": corrected["m-6kb"], "actors": {"Customer": {"userId": "u_large"}},
         "labels": {"blob": SIX_KB}, "numbers": {"size": 6144}},
        {"eventSource": "Segment", "eventType": "Order Completed",
         "eventTime": corrected["m-cart"], "actors": {"Customer": {"userId": "u_cart"}},
         "labels": {"order_id": "o-24", "products": products}, "numbers": {"revenue": 407.76}},
    ]
