"""A gateway started with a tracking plan: the golden cases' violations through
GET /_gateway/violations, the plan's counters, Protocols' blocking, and the official Python SDK
sending through it. Real servers on 127.0.0.1; waits are server-side."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import uuid
from typing import Any

from aiohttp import ClientSession
from segment.analytics import Client

from connector.plans import ProtocolsSettings, load_plan
from tests.e2e.gateway_helpers import gateway_stats, get, mock_events, post, run_gateway
from tests.plans.golden import PLANS, cases, expected, expected_unplanned

CASES = cases()
PLAN = load_plan(PLANS[0])


def basic(write_key: str) -> str:
    return "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()


async def test_the_golden_cases_violations_are_listed_and_the_messages_delivered(
    mock_url: str, token: str, http: ClientSession
) -> None:
    async with run_gateway(mock_url, token, plan=PLAN) as gateway:
        batch = [case["message"] for _, case in CASES]
        assert await post(http, f"{gateway}/v1/batch", {"batch": batch}) == (
            200, {"success": True})
        total = sum(len(case["violations"]) for _, case in CASES)
        failing = sum(bool(case["violations"]) for _, case in CASES)
        stats = await gateway_stats(http, gateway, delivered=len(CASES))
        assert stats == {"received": len(CASES), "deduplicated": 0, "dropped": 0, "skipped": 0,
                         "delivered": len(CASES), "pending": 0, "deadLettered": 0,
                         "labelsLeftOut": 0, "loneSurrogatesRefused": 0, "violations": total,
                         "violatingMessages": failing, "blocked": 0, "unplannedProperties": 3,
                         # Order Completed v1 and v2 and identify seen; v1's 3 properties, v2's
                         # order_id (of 4), identify's 2 traits
                         "eventsSeen": 3, "eventsPlanned": 3, "propertiesSeen": 6,
                         "propertiesPlanned": 9}
        for _, case in CASES:
            message_id = case["message"]["messageId"]
            status, listed = await get(http, f"{gateway}/_gateway/violations",
                                       messageId=message_id)
            assert status == 200
            rows = listed["violations"]
            assert listed["total"] == len(expected(case)) + len(expected_unplanned(case))
            assert [{k: v[k] for k in ("kind", "path", "message")}
                    for v in rows if v["violation"]] == expected(case)
            assert [{k: v[k] for k in ("kind", "path", "message")}
                    for v in rows if not v["violation"]] == expected_unplanned(case)
            assert all(v["messageId"] == message_id and v["blocked"] is None
                       for v in listed["violations"])
        status, page = await get(http, f"{gateway}/_gateway/violations", kind="required",
                                 event="Order Completed", limit=1)
        assert (status, page["plan"], page["total"], len(page["violations"])) == (
            200, "Golden", 3, 1)
        assert len(await mock_events(http, mock_url, min_count=len(CASES))) == len(CASES)


async def test_blocking_lists_the_blocked_message_with_its_reason(
    mock_url: str, token: str, http: ClientSession
) -> None:
    cases_by_name = dict(CASES)
    blocking = ProtocolsSettings(unplanned_events="block", violations="block")
    async with run_gateway(mock_url, token, plan=PLAN, protocols=blocking) as gateway:
        batch = [cases_by_name[name]["message"]
                 for name in ("clean-track", "unplanned-event", "missing-required")]
        assert (await post(http, f"{gateway}/v1/batch", {"batch": batch}))[0] == 200
        stats = await gateway_stats(http, gateway, delivered=1)
        assert (stats["dropped"], stats["blocked"], stats["delivered"]) == (2, 2, 1)
        status, dropped = await get(http, f"{gateway}/_gateway/dropped")
        assert status == 200
        assert [(d["messageId"], d["reason"], d["detail"]) for d in dropped["dropped"]] == [
            ("golden-missing-required", "blocked_by_tracking_plan",
             "JSON Schema violations are blocked: properties.order_id is required"),
            ("golden-unplanned-event", "blocked_by_tracking_plan",
             'unplanned event "Order Refunded" (unplanned events are blocked)'),
        ]


async def test_the_python_sdk_sends_through_a_planned_gateway(
    mock_url: str, token: str, http: ClientSession
) -> None:
    async with run_gateway(mock_url, token, plan=PLAN) as gateway:
        client = Client("WK-plan", host=gateway, sync_mode=True, max_retries=0)

        def send() -> None:
            client.track(user_id="u_sdk", event="Order Completed", message_id="sdk-1",
                         properties={"order_id": "o_9", "revenue": "12"})
            client.identify(user_id="u_sdk", message_id="sdk-2",
                            traits={"email": "ada@example.com", "plan": "pro"})

        await asyncio.to_thread(send)
        await gateway_stats(http, gateway, delivered=2)
        status, listed = await get(http, f"{gateway}/_gateway/violations")
        got: list[Any] = [(v["messageId"], v["kind"], v["path"]) for v in listed["violations"]]
        assert got == [("sdk-1", "invalid_type", "properties.revenue")]
        status, stored = await get(http, f"{gateway}/_gateway/messages/sdk-1")
        assert status == 200
        assert stored["message"]["context"]["protocols"]["violations"] == [
            {"type": "Invalid Type", "field": "properties.revenue",
             "description": "properties.revenue: Invalid type. Expected: number, given: string"}]


async def test_a_write_key_as_token_is_kept_out_of_every_answer_and_scopes_its_violations(
    mock_url: str, http: ClientSession
) -> None:
    """--token-per-write-key: two write keys, two tenants; a key is never shown, each key's
    violations are its own (writeKeyHash) and a messageId is deduplicated per key."""
    keys = [f"wk-{uuid.uuid4().hex}", f"wk-{uuid.uuid4().hex}"]
    message = dict(CASES)["missing-required"]["message"]
    async with run_gateway(mock_url, "unused", plan=PLAN, token_per_write_key=True) as gateway:
        for key in keys:
            assert await post(http, f"{gateway}/v1/batch", {"batch": [message]},
                              Authorization=basic(key)) == (200, {"success": True})
        stats = await gateway_stats(http, gateway, delivered=2)
        assert (stats["received"], stats["deduplicated"], stats["violations"]) == (2, 0, 2)
        for key in keys:
            async with ClientSession(headers={"apiToken": key}) as tenant:
                assert len(await mock_events(tenant, mock_url, min_count=1)) == 1
            status, listed = await get(http, f"{gateway}/_gateway/violations",
                                       writeKeyHash=hashlib.sha256(key.encode()).hexdigest())
            assert (status, listed["total"]) == (200, 1)
            assert [(v["messageId"], v["kind"]) for v in listed["violations"]] == [
                ("golden-missing-required", "required")]
        shown = []
        for path in ("/_gateway/messages/golden-missing-required", "/_gateway/violations",
                     "/_gateway/deadletter", "/_gateway/dropped", "/_gateway/stats"):
            status, answer = await get(http, f"{gateway}{path}")
            assert status == 200
            shown.append(json.dumps(answer))
        assert not [text for text in shown for key in keys if key in text or key[:12] in text]
        status, stored = await get(http, f"{gateway}/_gateway/messages/golden-missing-required")
        assert "_pointillistToken" not in stored["message"]


async def test_a_page_of_message_ids_is_read_at_once(
    mock_url: str, token: str, http: ClientSession
) -> None:
    cases_by_name = dict(CASES)
    names = ("clean-track", "unplanned-event", "missing-required")
    async with run_gateway(mock_url, token, plan=PLAN) as gateway:
        batch = [cases_by_name[name]["message"] for name in names]
        assert (await post(http, f"{gateway}/v1/batch", {"batch": batch}))[0] == 200
        await gateway_stats(http, gateway, delivered=3)
        ids = [("messageId", f"golden-{name}") for name in names]
        async with http.get(f"{gateway}/_gateway/violations", params=ids) as response:
            assert response.status == 200
            listed = await response.json()
        assert [(v["messageId"], v["kind"], v["violation"]) for v in listed["violations"]] == [
            ("golden-unplanned-event", "unplanned_event", True),
            ("golden-unplanned-event", "unplanned_property", False),
            ("golden-missing-required", "required", True)]
        too_many = [("messageId", f"m-{n}") for n in range(101)]
        async with http.get(f"{gateway}/_gateway/violations", params=too_many) as response:
            assert response.status == 400
            assert (await response.json())["error"]["message"] == (
                "messageId is given 101 times; at most 100 values per filter")


async def test_only_pages_of_allowed_origins_may_read_the_violations(
    mock_url: str, token: str, http: ClientSession
) -> None:
    """GET /_gateway/violations, like every admin route, answers CORS to exactly the origins the
    guard lets call the admin routes (--allow-origin): the mock's dashboard when the gateway
    allows the mock's origin. Being on the loopback is not enough: any other page gets 403 and
    no CORS header."""
    dashboard = "http://127.0.0.1:8787"
    url = "/_gateway/violations"
    async with run_gateway(mock_url, token, plan=PLAN,
                           allow_origins=frozenset({dashboard})) as gateway:
        for origin, allowed in ((dashboard, True), ("HTTP://127.0.0.1:8787", True),
                                ("http://localhost:3000", False), ("http://[::1]:8787", False),
                                ("https://127.0.0.2", False), ("https://shop.example", False),
                                ("http://127.0.0.1.nip.io", False), ("null", False)):
            async with http.get(f"{gateway}{url}", headers={"Origin": origin}) as response:
                assert response.status == (200 if allowed else 403), origin
                assert response.headers.get("Access-Control-Allow-Origin") == (
                    origin if allowed else None), origin
                assert response.headers["Vary"] == "Origin"
        # A page of another site that sends no Origin is known by Sec-Fetch-Site: refused too.
        async with http.get(f"{gateway}{url}",
                            headers={"Sec-Fetch-Site": "cross-site"}) as response:
            assert response.status == 403
            assert "Access-Control-Allow-Origin" not in response.headers
        # An error answer is readable too, so the page can show why.
        async with http.get(f"{gateway}{url}", params={"limit": "x"},
                            headers={"Origin": dashboard}) as response:
            assert response.status == 400
            assert response.headers["Access-Control-Allow-Origin"] == dashboard
        # The allowed origin may call and read the other administration routes too (the
        # guard's one rule); another page reads none of them.
        async with http.get(f"{gateway}/_gateway/stats",
                            headers={"Origin": dashboard}) as response:
            assert response.status == 200
            assert response.headers["Access-Control-Allow-Origin"] == dashboard
        async with http.get(f"{gateway}/_gateway/stats",
                            headers={"Origin": "http://localhost:3000"}) as response:
            assert response.status == 403
            assert "Access-Control-Allow-Origin" not in response.headers
    # Without --allow-origin, even the dashboard's origin is another site's page.
    async with run_gateway(mock_url, token, plan=PLAN) as gateway, \
            http.get(f"{gateway}{url}", headers={"Origin": dashboard}) as response:
        assert response.status == 403
        assert (await response.json())["error"]["code"] == "cross_site_request"
        assert "Access-Control-Allow-Origin" not in response.headers
    # --allow-origin '*': every page may call, so every page may read.
    async with run_gateway(mock_url, token, plan=PLAN, allow_origins=frozenset({"*"})) as gateway, \
            http.get(f"{gateway}{url}", headers={"Origin": "https://shop.example"}) as response:
        assert response.status == 200
        assert response.headers["Access-Control-Allow-Origin"] == "https://shop.example"
