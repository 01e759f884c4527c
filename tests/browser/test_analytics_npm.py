"""The npm package's `AnalyticsBrowser.load({writeKey, cdnURL})` in an app bundled with esbuild
(tests/browser/bundled_page.py), in headless Chromium, through the gateway to the mock: track
and identify land as the golden cases say and stitch; page() is skipped with its reason, or
mapped with mapPageScreen; a batch still in the browser's buffer when the page is left goes out
as a keepalive request and lands. Every request the page makes stays on 127.0.0.1."""

from __future__ import annotations

import json
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import Page

from connector.config import DeliveryConfig, MappingSettings
from connector.gateway.serving import serving
from connector.gateway.settings import GatewaySettings
from httpkit.serving import BackgroundServer
from mockserver.plugin.handle import MockHandle
from tests.browser import bundled_page
from tests.browser.observations import gateway_stats, shapes

WRITE_KEY = "WK-npm"
# What a page load fetches: the app and its bundle from the app's origin, the settings from
# cdnURL. (No chunk: the bundle holds the package's lazily imported code.)
LOADED = {"GET /": 1, "GET /assets/app.js": 1, f"GET /v1/projects/{WRITE_KEY}/settings": 1}
# Resolves to what analytics.js sent for a call (await on the AnalyticsBrowser: its Context).
SENT = "async ([call, ...args]) => (await analytics[call](...args)).event"
ANONYMOUS_ID = "async () => { const [a] = await analytics; return a.user().anonymousId(); }"
# Records each fetch analytics.js makes with its keepalive flag, in sessionStorage so that the
# next page of the same origin can read what the page being left sent.
RECORD_FETCHES = """
const realFetch = window.fetch;
window.fetch = function (url, init) {
  const sent = JSON.parse(sessionStorage.getItem("fetches") || "[]");
  sent.push([String(url), Boolean(init && init.keepalive)]);
  sessionStorage.setItem("fetches", JSON.stringify(sent));
  return realFetch.apply(this, arguments);
};
"""

@dataclass(frozen=True)
class Site:
    app: str  # the bundled app's URL
    gateway: str  # its cdnURL


@pytest.fixture(scope="module")
def app_script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bundled_page.bundle(tmp_path_factory.mktemp("bundled-app"))


@pytest.fixture
def start_site(mock: MockHandle, app_script: Path) -> Iterator[Callable[..., Site]]:
    """start_site(map_page_screen=False): a gateway (strict: one write key) delivering to the
    test's tenant, and the bundled app pointing at it."""
    with ExitStack() as stack:
        def start(map_page_screen: bool = False) -> Site:
            settings = GatewaySettings(
                delivery=DeliveryConfig(url=mock.url, token=mock.token, backoff_base=0.0,
                                        backoff_max=0.0),
                port=0, write_keys=frozenset({WRITE_KEY}),
                mapping=MappingSettings(map_page_screen=map_page_screen))
            gateway = stack.enter_context(BackgroundServer(lambda: serving(settings))).url
            app = stack.enter_context(
                BackgroundServer(lambda: bundled_page.serving(gateway, WRITE_KEY, app_script)))
            return Site(app.url, gateway)

        yield start


def open_app(page: Page, url: str, options: dict[str, Any] | None = None) -> str:
    """Open the app (InitOptions in its query string); its anonymousId once loaded."""
    page.goto(url + (f"?options={quote(json.dumps(options))}" if options else ""))
    anonymous_id: str = page.evaluate(ANONYMOUS_ID)
    return anonymous_id


def gateway_message(gateway: str, message_id: str) -> Any:
    with urllib.request.urlopen(f"{gateway}/_gateway/messages/{message_id}") as response:
        return json.load(response)


def test_analytics_browser_load_with_cdn_url_tracks_identifies_and_stitches(
    page: Page, mock: MockHandle, start_site: Callable[..., Site], requests: list[str]
) -> None:
    site = start_site()
    anonymous = open_app(page, site.app)
    visited = page.evaluate(SENT, ["page"])
    page.evaluate(SENT, ["track", "Product Viewed",
                         {"product_id": "LAMP-1", "price": 49.9, "currency": "EUR"}])
    page.evaluate(SENT, ["identify", "u_ada", {"email": "ada@example.com", "plan": "pro"}])

    viewed, identified = mock.wait_for(2)
    assert shapes([viewed, identified]) == [
        ("Product Viewed", {"anonymousId": anonymous},
         {"product_id": "LAMP-1", "currency": "EUR"}, {"price": 49.9}),
        ("identify", {"userId": "u_ada", "anonymousId": anonymous},
         {"email": "ada@example.com", "plan": "pro"}, {}),
    ]
    actor = mock.actor(anonymous_id=anonymous)
    assert actor["identifiers"] == {"anonymousId": [anonymous], "userId": ["u_ada"]}
    assert [r["id"] for r in actor["events"]] == [viewed["id"], identified["id"]]
    # The page() call: received, and skipped with its reason (the destination takes no pages).
    stats = gateway_stats(site.gateway, delivered=2, skipped=1)
    assert (stats["received"], stats["delivered"], stats["skipped"]) == (3, 2, 1)
    skipped = gateway_message(site.gateway, visited["messageId"])
    assert (skipped["state"], skipped["error"]) == ("skipped", {
        "code": "unsupported_message_type",
        "message": "the Pointillist destination takes identify and track only",
        "details": {"type": "page"}})
    assert Counter(requests) == {**LOADED, "POST /v1/p": 1, "POST /v1/t": 1, "POST /v1/i": 1}


def test_with_map_page_screen_a_page_call_is_a_viewed_page_event(
    page: Page, mock: MockHandle, start_site: Callable[..., Site], requests: list[str]
) -> None:
    site = start_site(map_page_screen=True)
    anonymous = open_app(page, site.app)
    page.evaluate(SENT, ["page", "Shop", "Lamps", {"section": "lighting"}])

    (viewed,) = mock.wait_for(1)
    # analytics.js fills the page's properties from the document (path, url, title ...);
    # the page's name is the call's second argument (the first is its category).
    assert shapes([viewed]) == [
        ("Viewed Lamps Page", {"anonymousId": anonymous},
         {"category": "Shop", "name": "Lamps", "section": "lighting", "path": "/",
          "referrer": "", "search": "", "title": "A bundled app", "url": site.app}, {}),
    ]
    assert Counter(requests) == {**LOADED, "POST /v1/p": 1}


def test_a_batch_still_buffered_when_the_page_is_left_is_sent_with_keepalive(
    page: Page, mock: MockHandle, start_site: Callable[..., Site], requests: list[str]
) -> None:
    # Batching that would wait a minute: only leaving the page sends the buffer.
    batching = {"strategy": "batching", "config": {"size": 100, "timeout": 60_000}}
    page.add_init_script(RECORD_FETCHES)
    site = start_site()
    anonymous = open_app(page, site.app, {"integrations": {"Segment.io": {
        "deliveryStrategy": batching}}})
    page.evaluate(SENT, ["track", "Cart Viewed", {"items": 2}])
    page.evaluate(SENT, ["track", "Checkout Started", {"revenue": 62.4}])
    assert mock.events() == []  # still in the browser's buffer

    page.click("#away")  # navigate away at once: pagehide flushes the buffer
    page.wait_for_url(site.app + "away")
    events = mock.wait_for(2)
    assert shapes(events) == [
        ("Cart Viewed", {"anonymousId": anonymous}, {}, {"items": 2}),
        ("Checkout Started", {"anonymousId": anonymous}, {}, {"revenue": 62.4}),
    ]
    gateway = site.gateway
    fetches = json.loads(page.evaluate("sessionStorage.getItem('fetches')"))
    assert fetches == [[f"{gateway}/v1/projects/{WRITE_KEY}/settings", False],
                       [f"{gateway}/v1/b", True]]
    # Chromium sends a keepalive request that outlives its page from the browser process,
    # unseen by playwright's request events: the page's own record above shows where it went.
    assert Counter(requests) == {**LOADED, "GET /away": 1}
