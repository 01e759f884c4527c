"""The dashboard with `?gateway=URL` shows the plan's coverage beside the feed, read from a
real planned gateway that allows the mock's origin: the planned events seen and never seen,
the never-seen properties, the totals, updated as events arrive; names are text, never
markup; a gateway without a plan shows no panel."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from yarl import URL

from connector.gateway.serving import serving
from connector.gateway.settings import GatewaySettings
from connector.plans import Plan, load_plan, plan_from_data
from connector.testing import GatewayHandle
from httpkit.serving import BackgroundServer
from mockserver.plugin.handle import MockHandle
from tests.browser.conftest import screenshot
from tests.e2e.gateway_helpers import fast_delivery
from tests.plans.golden import PLANS

SECOND = 1000  # ms
HOSTILE = '<img src=x onerror="window.pwned=1">'


def gateway_for(mock_server: str, mock: MockHandle, plan: Plan | None) -> Iterator[GatewayHandle]:
    settings = GatewaySettings(delivery=fast_delivery(mock_server, mock.token), port=0,
                               plan=plan, allow_origins=frozenset({str(URL(mock.url).origin())}))
    with BackgroundServer(lambda: serving(settings), name="gateway") as server:
        yield GatewayHandle(server.url, "wk-browser")


@pytest.fixture
def gateway(mock_server: str, mock: MockHandle) -> Iterator[GatewayHandle]:
    """The golden plan (Order Completed v1 and v2, identify), allowing the dashboard."""
    yield from gateway_for(mock_server, mock, load_plan(PLANS[0]))


def track(message_id: str, properties: dict[str, Any], event: str = "Order Completed") -> dict[
        str, Any]:
    return {"type": "track", "messageId": message_id, "userId": "u_1", "event": event,
            "properties": properties, "timestamp": "2026-11-28T10:00:00.000Z"}


def open_dashboard(page: Page, mock: MockHandle, gateway: GatewayHandle) -> None:
    page.goto(f"{mock.url}/?token={mock.token}&gateway={urllib.parse.quote(gateway.url)}")
    expect(page.locator("#status")).to_have_text("live")


def test_the_panel_shows_what_was_seen_and_follows_new_events(
    page: Page, mock: MockHandle, gateway: GatewayHandle
) -> None:
    open_dashboard(page, mock, gateway)
    panel = page.locator("#coverage")
    expect(panel.locator(".coverage-total")).to_have_text(
        "plan Golden: events 0/3 (0 %), properties 0/9 (0 %)")
    gateway.send("track", track("c-1", {"order_id": "o_1", "revenue": 42.5}))
    expect(panel.locator(".coverage-total")).to_have_text(
        "plan Golden: events 1/3 (33.3 %), properties 2/9 (22.2 %)", timeout=5 * SECOND)
    expect(panel.locator(".coverage-rows tr")).to_have_text([
        'track "Order Completed" v112/3properties.currency',
        'track "Order Completed" v200/4never seen',
        "identify v100/2never seen",
    ])
    expect(panel.locator('.coverage-rows tr[data-seen="false"]')).to_have_count(2)
    screenshot(page, "plan-coverage")


def test_names_are_text_and_a_gateway_without_a_plan_shows_no_panel(
    page: Page, mock: MockHandle, mock_server: str
) -> None:
    plan = plan_from_data({"events": {HOSTILE: {"properties": {HOSTILE: "string"}}}}, "hostile")
    planned = gateway_for(mock_server, mock, plan)
    gateway = next(planned)
    open_dashboard(page, mock, gateway)
    expect(page.locator("#coverage .coverage-rows th")).to_have_text(
        [f'track "{HOSTILE.replace(chr(34), chr(92) + chr(34))}" v1'])
    expect(page.locator("#coverage img")).to_have_count(0)
    assert page.evaluate("window.pwned") is None
    planned.close()

    unplanned = gateway_for(mock_server, mock, None)
    bare = next(unplanned)
    open_dashboard(page, mock, bare)
    expect(page.locator("#gateway-note")).to_have_text(f"violations from {bare.url}")
    expect(page.locator("#coverage")).to_be_hidden()
    unplanned.close()
