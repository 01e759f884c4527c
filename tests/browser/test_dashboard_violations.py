"""The dashboard with `?gateway=URL`: each stored event shows the tracking-plan violations of
the Segment message it came from, read from a real planned gateway that allows the mock's
origin (--allow-origin: CORS for that origin only); a clean message shows none; violation text
is data, never markup; a gateway that does not allow the mock's origin shows nothing and says
how to allow it."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from yarl import URL

from connector.gateway.serving import serving
from connector.gateway.settings import GatewaySettings
from connector.plans import load_plan
from connector.testing import GatewayHandle
from httpkit.serving import BackgroundServer
from mockserver.plugin.handle import MockHandle
from tests.browser.conftest import screenshot
from tests.e2e.gateway_helpers import fast_delivery
from tests.plans.golden import PLANS

SECOND = 1000  # ms
HOSTILE = '<img src=x onerror="window.pwned=1">'


def planned_gateway(mock_server: str, mock: MockHandle,
                    allow_origins: frozenset[str]) -> Iterator[GatewayHandle]:
    settings = GatewaySettings(delivery=fast_delivery(mock_server, mock.token), port=0,
                               plan=load_plan(PLANS[0]), allow_origins=allow_origins)
    with BackgroundServer(lambda: serving(settings), name="gateway") as server:
        yield GatewayHandle(server.url, "wk-browser")


@pytest.fixture
def gateway(mock_server: str, mock: MockHandle) -> Iterator[GatewayHandle]:
    """A gateway with the golden plan, delivering into this test's tenant, that lets the mock's
    pages (the dashboard's origin) read its violations, as `make demo` starts it."""
    yield from planned_gateway(mock_server, mock, frozenset({str(URL(mock.url).origin())}))


@pytest.fixture
def sealed_gateway(mock_server: str, mock: MockHandle) -> Iterator[GatewayHandle]:
    """The same gateway without --allow-origin: every other origin's page is refused."""
    yield from planned_gateway(mock_server, mock, frozenset())


def track(message_id: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "track", "messageId": message_id, "userId": "u_1",
            "event": "Order Completed", "properties": properties,
            "timestamp": "2026-11-28T10:00:00.000Z"}


def wait_delivered(gateway: GatewayHandle, count: int) -> None:
    """The gateway's server-side wait: answers once `count` messages are delivered."""
    query = urllib.parse.urlencode({"min_delivered": count, "timeout": 10})
    with urllib.request.urlopen(f"{gateway.url}/_gateway/stats?{query}") as response:
        stats = json.load(response)
    assert (stats["waitSatisfied"], stats["delivered"]) == (True, count)


def row_of(page: Page, message_id: str) -> Any:
    return page.locator(f'#feed > li[data-idempotency-key="{message_id}"]')


def test_a_violating_message_shows_its_violations_and_a_clean_one_none(
    page: Page, mock: MockHandle, gateway: GatewayHandle
) -> None:
    page.goto(f"{mock.url}/?token={mock.token}&gateway={urllib.parse.quote(gateway.url)}")
    expect(page.locator("#status")).to_have_text("live")
    expect(page.locator("#gateway-note")).to_have_text(f"violations from {gateway.url}")

    gateway.send("batch", {"batch": [
        track("m-bad", {"revenue": True, "currency": "usd"}),
        track("m-clean", {"order_id": "o_1", "revenue": 42.5, "currency": "EUR"}),
    ]})
    wait_delivered(gateway, 2)

    bad = row_of(page, "m-bad")
    expect(bad.locator(".plan-violations li")).to_have_text([
        "required properties.order_id properties.order_id is required",
        'invalid_value properties.currency properties.currency must be one of "USD", "EUR", '
        'not "usd"',
        "invalid_type properties.revenue properties.revenue: Invalid type. Expected: number, "
        "given: boolean",
    ], timeout=SECOND)
    expect(bad.locator(".plan-violations .kind")).to_have_text(
        ["required", "invalid_value", "invalid_type"])
    expect(bad.locator(".plan-violations code")).to_have_text(
        ["properties.order_id", "properties.currency", "properties.revenue"])
    expect(bad).to_have_class("row stored violating")
    clean = row_of(page, "m-clean")
    expect(clean.locator(".type")).to_have_text("Order Completed")
    expect(clean).to_have_class("row stored")
    expect(clean.locator(".plan-violations")).to_have_count(0)
    screenshot(page, "violations-in-the-feed")

    # A reload reads the stored events' violations again, in one request per page of ids.
    page.reload()
    expect(row_of(page, "m-bad").locator(".plan-violations li")).to_have_count(3)
    expect(row_of(page, "m-clean").locator(".plan-violations")).to_have_count(0)


def test_violation_text_is_shown_as_text_and_the_gateway_is_remembered(
    page: Page, mock: MockHandle, gateway: GatewayHandle
) -> None:
    gateway.send("track", track("m-hostile", {"order_id": "o_1", HOSTILE: "x"}))
    wait_delivered(gateway, 1)
    page.goto(f"{mock.url}/?token={mock.token}&gateway={urllib.parse.quote(gateway.url)}")
    expect(row_of(page, "m-hostile").locator(".plan-violations li")).to_have_text([
        f"unplanned_property properties.{HOSTILE} properties.{HOSTILE} is not in the tracking "
        'plan for "Order Completed"'])
    expect(page.locator("#feed img")).to_have_count(0)
    assert page.evaluate("window.pwned") is None

    page.goto(f"{mock.url}/")  # neither token nor gateway in the link: both remembered
    expect(page.locator("#status")).to_have_text("live")
    expect(page.locator("#gateway-note")).to_have_text(f"violations from {gateway.url}")
    expect(row_of(page, "m-hostile").locator(".plan-violations .kind")).to_have_text(
        ["unplanned_property"])
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query)
    assert query == {"token": [mock.token], "gateway": [gateway.url]}

    page.goto(f"{mock.url}/?gateway=")  # an empty one forgets it
    expect(page.locator("#status")).to_have_text("live")
    expect(page.locator("#gateway-note")).to_have_text("")
    expect(row_of(page, "m-hostile")).to_have_count(1)
    expect(page.locator(".plan-violations")).to_have_count(0)


def test_a_gateway_that_does_not_allow_the_dashboard_shows_nothing_and_says_how(
    page: Page, mock: MockHandle, sealed_gateway: GatewayHandle, console_errors: list[str]
) -> None:
    sealed_gateway.send("track", track("m-sealed", {"revenue": True}))
    wait_delivered(sealed_gateway, 1)
    page.goto(f"{mock.url}/?token={mock.token}&gateway={urllib.parse.quote(sealed_gateway.url)}")
    expect(row_of(page, "m-sealed").locator(".type")).to_have_text("Order Completed")
    origin = str(URL(mock.url).origin())
    expect(page.locator("#gateway-note")).to_contain_text(f"--allow-origin {origin}")
    expect(page.locator(".plan-violations")).to_have_count(0)
    # Chromium logs the refused reads (403, no CORS header: the violations and the coverage
    # panel's); those are the only errors.
    assert console_errors and all("/_gateway/violations" in e or "/_gateway/coverage" in e
                                  for e in console_errors)
    console_errors.clear()
