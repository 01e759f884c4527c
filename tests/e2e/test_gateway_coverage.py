"""A gateway's coverage of its tracking plan: the hand-written golden coverage cases through
GET /_gateway/coverage and the stats, one write key's coverage (writeKeyHash), a reset
(DELETE), duplicates counted once. Real servers on 127.0.0.1; waits are server-side."""

from __future__ import annotations

import base64
import hashlib
import uuid
from typing import Any

import pytest
from aiohttp import ClientSession

from connector.plans import plan_from_data
from tests.e2e.gateway_helpers import gateway_stats, get, post, run_gateway
from tests.plans.golden import coverage_cases

CASES = coverage_cases()
PARTIAL = dict(CASES)["partial"]
PARTIAL_PLAN = plan_from_data(PARTIAL["plan"], "partial")


def basic(write_key: str) -> str:
    return "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()


def key_hash(write_key: str) -> str:
    return hashlib.sha256(write_key.encode()).hexdigest()


async def coverage(http: ClientSession, gateway: str, **params: str) -> Any:
    status, body = await get(http, f"{gateway}/_gateway/coverage", **params)
    assert status == 200
    return body


@pytest.mark.parametrize(("name", "case"), CASES, ids=[name for name, _ in CASES])
async def test_the_golden_cases_coverage_is_served_and_counted(
    name: str, case: dict[str, Any], mock_url: str, token: str, http: ClientSession
) -> None:
    plan = plan_from_data(case["plan"], name)
    async with run_gateway(mock_url, token, plan=plan) as gateway:
        if case["messages"]:
            assert await post(http, f"{gateway}/v1/batch", {"batch": case["messages"]}) == (
                200, {"success": True})
        stats = await gateway_stats(http, gateway, received=len(case["messages"]))
        assert await coverage(http, gateway) == case["coverage"]
        totals = case["coverage"]["totals"]
        assert {k: stats[k] for k in ("eventsSeen", "eventsPlanned", "propertiesSeen",
                                      "propertiesPlanned")} == {
            "eventsSeen": totals["events"]["seen"], "eventsPlanned": totals["events"]["planned"],
            "propertiesSeen": totals["properties"]["seen"],
            "propertiesPlanned": totals["properties"]["planned"]}


async def test_each_write_key_has_its_coverage_and_a_reset_forgets_it(
    mock_url: str, http: ClientSession
) -> None:
    first, second = f"wk-{uuid.uuid4().hex}", f"wk-{uuid.uuid4().hex}"
    messages = PARTIAL["messages"]
    async with run_gateway(mock_url, "unused", plan=PARTIAL_PLAN,
                           token_per_write_key=True) as gateway:
        for key, batch in ((first, messages[:3]), (second, messages[3:]), (first, messages[:3])):
            assert await post(http, f"{gateway}/v1/batch", {"batch": batch},
                              Authorization=basic(key)) == (200, {"success": True})
        stats = await gateway_stats(http, gateway, received=len(messages) + 3)
        assert stats["deduplicated"] == 3  # sent again with the same key: covered once
        assert await coverage(http, gateway) == PARTIAL["coverage"]
        mine = await coverage(http, gateway, writeKeyHash=key_hash(first))
        assert [(e["event"], e["version"], e["messages"], e["missing"])
                for e in mine["events"]] == [
            ("Order Completed", 1, 2, ["properties.products[].price"]),
            ("Order Completed", 2, 1, ["properties.total"]),
            ("Product Viewed", 1, 0, ["properties.price", "properties.product_id"]),
            ("Signed Up", 1, 0, ["properties.method"]),
            (None, 1, 0, ["traits.address", "traits.address.city", "traits.address.country",
                          "traits.email", "traits.name"]),
            (None, 1, 0, ["traits.name"])]
        assert mine["totals"] == {"events": {"seen": 2, "planned": 6, "percent": 33.3},
                                  "properties": {"seen": 5, "planned": 16, "percent": 31.2}}

        async with http.delete(f"{gateway}/_gateway/coverage",
                               params={"writeKeyHash": key_hash(first)}) as response:
            assert response.status == 200
            assert await response.json() == {"reset": True, "rows": 7}
        forgotten = await coverage(http, gateway, writeKeyHash=key_hash(first))
        assert forgotten["totals"]["events"] == {"seen": 0, "planned": 6, "percent": 0.0}
        left = await coverage(http, gateway)
        assert [(e["event"], e["messages"]) for e in left["events"]] == [
            ("Order Completed", 0), ("Order Completed", 0), ("Product Viewed", 1),
            ("Signed Up", 0), (None, 1), (None, 0)]
        assert (await gateway_stats(http, gateway))["eventsSeen"] == 2

        async with http.delete(f"{gateway}/_gateway/coverage") as response:
            assert (response.status, await response.json()) == (200, {"reset": True, "rows": 6})
        stats = await gateway_stats(http, gateway)
        assert (stats["eventsSeen"], stats["propertiesSeen"], stats["violations"]) == (0, 0, 3)


async def test_a_gateway_without_a_plan_covers_nothing_and_one_key_is_one_value(
    mock_url: str, token: str, http: ClientSession
) -> None:
    async with run_gateway(mock_url, token) as gateway:
        assert await coverage(http, gateway) == {"plan": None, "events": [], "totals": None}
    async with run_gateway(mock_url, token, plan=PARTIAL_PLAN) as gateway:
        async with http.get(f"{gateway}/_gateway/coverage",
                            params=[("writeKeyHash", "a"), ("writeKeyHash", "b")]) as response:
            body = await response.json()
        assert response.status == 400
        assert body["error"]["message"] == (
            "writeKeyHash is given more than once; coverage is of one write key, or of all "
            "(without it)")
