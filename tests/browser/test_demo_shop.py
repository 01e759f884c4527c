"""The demo's shop page through the demo's own gateway (connector.demo.gateway_settings): the
visitor's clicks are the first thing to arrive after the replayed scenario, and they follow the
demo's tracking plan.

The scenario ends months before the visitor clicks. The gateway syncs Engage audiences in
traffic time; were the shop's live messages to move that clock, every daily sync in between
would run before the clicks are observed, and their identifies would flood the feed first (278
of them after the medium scenario). Here two scenario messages set the clock in January 2026 and
put one user in an audience; the shop's clicks then run no sync at all."""

from __future__ import annotations

import dataclasses
import json
import urllib.request
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from connector import shop
from connector.demo import SHOP_WRITE_KEY, WRITE_KEY, gateway_settings
from connector.gateway.serving import serving
from connector.testing import GatewayHandle
from httpkit.serving import BackgroundServer
from mockserver.plugin.handle import MockHandle
from tests.browser.observations import gateway_stats, load
from tests.e2e.gateway_helpers import fast_delivery


def order(message_id: str, day: int) -> dict[str, object]:
    return {"type": "track", "messageId": message_id, "userId": "u_scenario",
            "event": "Order Completed", "timestamp": f"2026-01-0{day}T10:00:00.000Z",
            "properties": {"order_id": message_id, "total": 10.0, "currency": "EUR",
                           "products": []}}


@pytest.fixture
def demo_gateway(mock_server: str, mock: MockHandle) -> Iterator[str]:
    settings = dataclasses.replace(gateway_settings(mock_server),
                                   delivery=fast_delivery(mock_server, mock.token))
    with BackgroundServer(lambda: serving(settings), name="gateway") as server:
        yield server.url


def audiences_emitted(gateway: str) -> int:
    with urllib.request.urlopen(f"{gateway}/_gateway/audiences") as response:
        return int(json.load(response)["stats"]["emitted"])


def test_the_shops_clicks_leave_the_audience_clock_and_follow_the_demo_plan(
    page: Page, mock: MockHandle, demo_gateway: str,
) -> None:
    scenario = GatewayHandle(demo_gateway, WRITE_KEY, plan="PointShop")
    scenario.send("batch", {"batch": [order("o_1", 1), order("o_2", 3)]})
    # The syncs of 2 and 3 January ran: u_scenario's audience flags and computed traits
    # (fixtures/audiences.yaml: 3 identifies).
    emitted = audiences_emitted(demo_gateway)
    assert emitted == 3
    before = 2 + emitted
    assert len(mock.wait_for(before)) == before

    with BackgroundServer(lambda: shop.serving(demo_gateway, SHOP_WRITE_KEY)) as site:
        load(page, site.url)
        page.locator(".product .view").first.click()
        page.locator(".product .add").first.click()
        page.locator("#sign-in button").click()
        expect(page.locator("#user")).to_have_text("u_ada")
        page.locator("#checkout").click()
        expect(page.locator("#status")).to_have_text("Order Completed: 1 items, 49.90 EUR")
        stats = gateway_stats(demo_gateway, delivered=before + 4, skipped=1)  # skipped: page()

    assert audiences_emitted(demo_gateway) == emitted  # no sync ran for the shop's clicks
    assert (stats["delivered"], stats["pending"]) == (before + 4, 0)
    events = mock.events()
    assert [e["event"]["eventType"] for e in events[before:]] == [
        "Product Viewed", "Product Added", "identify", "Order Completed"]
    shop_key = GatewayHandle(demo_gateway, SHOP_WRITE_KEY, plan="PointShop")
    assert shop_key.violations() == []
    shop_key.assert_no_violations()
