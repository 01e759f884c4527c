"""Segment's analytics.js, unchanged, in headless Chromium, through the gateway to the mock.

The page is the demo shop (connector/shop/index.html: the standard snippet with only its CDN
address changed), served from its own port, so it is cross-origin to the gateway as a site is to
Segment. The bundle is the npm package's own build that `make install` put in web/. Every
request the browser makes is checked to stay on 127.0.0.1: nothing reaches the network.
"""

from __future__ import annotations

import json
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from connector import shop
from connector.config import DeliveryConfig
from connector.engage.definitions import load_definitions
from connector.gateway.serving import serving
from connector.gateway.settings import GatewaySettings, default_analytics_js
from httpkit.serving import BackgroundServer
from mockserver.plugin.handle import MockHandle
from tests.browser.conftest import screenshot
from tests.browser.observations import gateway_stats, load, shapes

ROOT = Path(__file__).resolve().parents[2]
WRITE_KEY = "WK-browser"
DAY = 24 * 60 * 60.0
AUDIENCE = "order_completed_last_30days"


@pytest.fixture
def gateway(mock: MockHandle) -> Iterator[str]:
    """A strict gateway (one write key) delivering to the test's tenant, with the demo's
    audiences, synced only when asked."""
    if not default_analytics_js().is_file():
        pytest.fail(f"analytics.js is not installed at {default_analytics_js()}: run "
                    "`make install` "
                    "(npm ci in web/)")
    settings = GatewaySettings(
        delivery=DeliveryConfig(url=mock.url, token=mock.token, backoff_base=0.0,
                                backoff_max=0.0),
        port=0, write_keys=frozenset({WRITE_KEY}), sync_every=DAY,
        definitions=load_definitions(ROOT / "fixtures" / "audiences.yaml"))
    with BackgroundServer(lambda: serving(settings)) as server:
        yield server.url


@pytest.fixture
def shop_url(gateway: str) -> Iterator[str]:
    with BackgroundServer(lambda: shop.serving(gateway, WRITE_KEY)) as server:
        yield server.url


def post_json(url: str, body: Any) -> Any:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.load(response)


def test_the_snippet_sends_page_track_identify_and_keeps_the_anonymous_id(
    page: Page, mock: MockHandle, gateway: str, shop_url: str, requests: list[str]
) -> None:
    anonymous = load(page, shop_url)
    page.locator(".product .view").first.click()
    expect(page.locator("#status")).to_have_text("Product Viewed: Desk Lamp")
    page.locator("#sign-in button").click()
    expect(page.locator("#user")).to_have_text("u_ada")

    viewed, identified = mock.wait_for(2)
    assert shapes([viewed, identified]) == [
        ("Product Viewed", {"anonymousId": anonymous},
         {"product_id": "LAMP-1", "name": "Desk Lamp", "currency": "EUR"}, {"price": 49.9}),
        ("identify", {"userId": "u_ada", "anonymousId": anonymous},
         {"email": "ada@example.com", "name": "Ada Lovelace"}, {}),
    ]
    # The snippet's page() is skipped: the destination takes identify and track only.
    stats = gateway_stats(gateway, delivered=2, skipped=1)
    assert (stats["received"], stats["delivered"], stats["skipped"]) == (3, 2, 1)
    # The identify stitched the earlier anonymous event to the user.
    actor = mock.actor(anonymous_id=anonymous)
    assert actor["identifiers"] == {"anonymousId": [anonymous], "userId": ["u_ada"]}
    assert [r["id"] for r in actor["events"]] == [viewed["id"], identified["id"]]

    # A reload keeps the anonymousId and the user (cookies and localStorage).
    assert load(page, shop_url) == anonymous
    page.locator(".product .add").nth(1).click()
    (added,) = mock.wait_for(1, eventType="Product Added")
    assert added["event"]["actors"]["Customer"] == {"userId": "u_ada", "anonymousId": anonymous}
    assert mock.actor(user_id="u_ada")["eventCount"] == 3

    # reset() (sign out) starts a new anonymous actor.
    page.locator("#sign-out").click()
    fresh: str = page.evaluate("analytics.user().anonymousId()")
    assert fresh != anonymous
    page.locator(".product .view").nth(2).click()
    (_, shade) = mock.wait_for(2, eventType="Product Viewed")
    assert shade["event"]["actors"]["Customer"] == {"anonymousId": fresh}
    assert mock.actor(anonymous_id=fresh)["identifiers"] == {"anonymousId": [fresh]}
    screenshot(page, "analytics-js-shop")
    # Two loads: the bundle, the settings and two lazy chunks each; then one POST per call, to
    # analytics.js's one-letter routes.
    bundles = "GET /analytics-next/bundles/"
    assert Counter(requests) == {
        "GET /": 2, f"GET /analytics.js/v1/{WRITE_KEY}/analytics.min.js": 2,
        f"GET /v1/projects/{WRITE_KEY}/settings": 2,
        f"{bundles}ajs-destination.bundle.40628baed746e9904edc.js": 2,
        f"{bundles}schemaFilter.bundle.a6a77355d52c20e3a83d.js": 2,
        "POST /v1/p": 2, "POST /v1/t": 3, "POST /v1/i": 1}


def test_a_shopper_journey_is_stitched_and_the_audience_flag_flips_on_the_dashboard(
    page: Page, mock: MockHandle, gateway: str, shop_url: str, requests: list[str]
) -> None:
    dashboard = page.context.new_page()
    dashboard.goto(f"{mock.url}/?token={mock.token}")
    expect(dashboard.locator("#status")).to_have_text("live")

    anonymous = load(page, shop_url)
    page.locator(".product .view").first.click()
    page.locator(".product .add").first.click()
    page.locator(".product .add").nth(1).click()
    page.locator("#sign-in button").click()
    expect(page.locator("#user")).to_have_text("u_ada")
    page.locator("#checkout").click()
    expect(page.locator("#status")).to_have_text("Order Completed: 2 items, 62.40 EUR")
    events = mock.wait_for(5)
    expect(dashboard.locator("#feed > li")).to_have_count(5)  # each click arrived live

    order = events[-1]["event"]
    assert order["eventType"] == "Order Completed"
    assert order["numbers"] == {"total": 62.4, "revenue": 62.4}
    assert json.loads(order["labels"]["products"]) == [
        {"product_id": "LAMP-1", "sku": "LAMP-1", "name": "Desk Lamp", "price": 49.9,
         "quantity": 1},
        {"product_id": "BULB-4", "sku": "BULB-4", "name": "LED Bulb (4 pack)", "price": 12.5,
         "quantity": 1}]
    actor = mock.actor(user_id="u_ada")
    assert [(r["event"]["eventType"], sorted(r["event"]["actors"]["Customer"]))
            for r in actor["events"]] == [
        ("Product Viewed", ["anonymousId"]), ("Product Added", ["anonymousId"]),
        ("Product Added", ["anonymousId"]), ("identify", ["anonymousId", "userId"]),
        ("Order Completed", ["anonymousId", "userId"])]
    assert actor["identifiers"] == {"anonymousId": [anonymous], "userId": ["u_ada"]}
    assert AUDIENCE not in actor["labels"]

    emitted = post_json(f"{gateway}/_gateway/audiences/sync", {})["emitted"]  # Engage, now
    synced = mock.wait_for(5 + emitted)[5:]
    flags = [r for r in synced if AUDIENCE in r["event"]["labels"]]
    assert [(r["event"]["eventType"], r["event"]["actors"]["Customer"],
             r["event"]["labels"][AUDIENCE]) for r in flags] == [
        ("identify", {"userId": "u_ada"}, "true")]
    assert mock.actor(user_id="u_ada")["labels"][AUDIENCE] == "true"
    expect(dashboard.locator("#feed > li")).to_have_count(5 + emitted)
    screenshot(dashboard, "analytics-js-dashboard")
