"""The dashboard in headless Chromium: the live feed, counters, the actor view with label
history, conflicts, fault rules, both themes and both window sizes."""

from __future__ import annotations

import json
import re
import urllib.request
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from mockserver.plugin.handle import MockError, MockHandle
from tests.browser.conftest import DESKTOP, PHONE, screenshot
from tests.conftest import make_event

SECOND = 1000  # ms: "appears within a second"
AUDIENCE = "order_completed_last_30days"
RED = "rgb(198, 40, 40)"  # --bad in the light theme


def customer(**ids: str) -> dict[str, Any]:
    return {"Customer": ids}


def identify(time: str, labels: dict[str, str], **ids: str) -> dict[str, Any]:
    return make_event(eventType="identify", eventTime=time, actors=customer(**ids),
                      labels=labels, numbers={})


def add_fault(mock: MockHandle, rule: dict[str, Any]) -> None:
    request = urllib.request.Request(f"{mock.url}/_mock/faults", data=json.dumps(rule).encode(),
                                     method="POST", headers=mock.headers)
    with urllib.request.urlopen(request) as response:
        assert response.status == 201


def send_story(mock: MockHandle, fault: bool = True) -> None:
    """An anonymous visit, the identify that links it to u_1, an order, the audience going
    true → false → true, a conflict over a_1 (claimed by u_2), a rejected request and (unless
    `fault` is false) a fault rule that answers the next two events 503."""
    mock.send(make_event(eventType="Product Viewed", eventTime="2026-11-01T09:00:00Z",
                         actors=customer(anonymousId="a_1"), labels={"product": "Lamp"},
                         numbers={"price": 49.9}))
    mock.send(identify("2026-11-01T09:05:00Z", {"plan": "pro"}, userId="u_1", anonymousId="a_1"))
    mock.send(make_event(eventType="Order Completed", eventTime="2026-11-01T09:10:00Z",
                         actors=customer(userId="u_1"), labels={}, numbers={"revenue": 42.5}))
    for day, member in (("02", "true"), ("10", "false"), ("20", "true")):
        mock.send(identify(f"2026-11-{day}T12:00:00Z", {AUDIENCE: member}, userId="u_1"))
    mock.send(make_event(eventType="Order Completed", eventTime="2026-11-21T08:00:00Z",
                         actors=customer(userId="u_2", anonymousId="a_1"), labels={},
                         numbers={}))
    with pytest.raises(MockError):
        mock.send({"eventType": "Order Completed", "eventTime": "yesterday",
                   "actors": customer(userId="u_1")})
    if fault:
        add_fault(mock, {"kind": "status", "status": 503, "times": 2})


def open_dashboard(page: Page, mock: MockHandle, view: str = "") -> None:
    page.goto(f"{mock.url}/?token={mock.token}{'#' + view if view else ''}")
    expect(page.locator("#status")).to_have_text("live")


def feed_rows(page: Page) -> Any:
    return page.locator("#feed > li")


def show_actor(page: Page, identifier: str) -> None:
    page.locator('nav.tabs button[data-view="actor"]').click()
    page.locator("#actor-id").fill(identifier)
    page.locator("#actor-id").press("Enter")


def test_the_page_loads_with_no_console_errors(
    page: Page, mock: MockHandle, console_errors: list[str]
) -> None:
    send_story(mock)
    open_dashboard(page, mock)
    expect(feed_rows(page)).to_have_count(8)  # 7 stored, 1 rejected
    expect(page.locator('.total[data-name="events"] dd')).to_have_text("7")
    for view in ("actor", "conflicts", "faults", "live"):
        page.locator(f'nav.tabs button[data-view="{view}"]').click()
        expect(page.locator(f"#view-{view}")).to_be_visible()
    screenshot(page, "page-loads")
    assert console_errors == []


def test_events_sent_while_the_page_is_open_appear_within_a_second(
    page: Page, mock: MockHandle
) -> None:
    open_dashboard(page, mock)
    expect(feed_rows(page)).to_have_count(0)
    expect(page.locator(".feed-empty")).to_be_visible()

    mock.send(make_event(eventType="Product Viewed", actors=customer(anonymousId="a_7")))
    first = feed_rows(page).first
    expect(first.locator(".type")).to_have_text("Product Viewed", timeout=SECOND)
    expect(first.locator("time").first).to_have_text("2026-11-28 10:00:00Z")
    expect(first.locator(".id-link")).to_have_text(["anonymousId a_7"])
    expect(first.locator(".pair")).to_have_text(
        ["plan=pro", "campaign.source=newsletter", "revenue=42.5"])

    mock.send(make_event(eventType="Order Completed", eventTime="2026-11-28T10:05:00Z"))
    expect(feed_rows(page).locator(".type")).to_have_text(
        ["Order Completed", "Product Viewed"], timeout=SECOND)  # newest first
    expect(page.locator('.total[data-name="events"] dd')).to_have_text("2", timeout=SECOND)
    expect(page.locator(".types th")).to_have_text(["Order Completed", "Product Viewed"])
    expect(page.locator("#rate-chart svg")).to_have_attribute(
        "aria-label", re.compile(r"^Events per minute, last 30 minutes: 2 in all, "))
    screenshot(page, "live-feed")


def test_the_feed_opens_with_the_events_already_stored_newest_first(
    page: Page, mock: MockHandle
) -> None:
    for n in range(3):
        mock.send(make_event(eventType=f"Step {n}", eventTime=f"2026-11-28T10:0{n}:00Z"))
    open_dashboard(page, mock)
    expect(feed_rows(page).locator(".type")).to_have_text(["Step 2", "Step 1", "Step 0"])
    expect(page.locator('.total[data-name="events"] dd')).to_have_text("3")


def test_searching_an_identified_user_shows_both_identifiers_and_the_earlier_events(
    page: Page, mock: MockHandle
) -> None:
    send_story(mock)
    open_dashboard(page, mock)
    show_actor(page, "u_1")

    expect(page.locator(".actor-head .who")).to_have_text("u_1")
    expect(page.locator(".identifiers dt")).to_have_text(["anonymousId", "userId"])
    expect(page.locator(".identifiers dd")).to_have_text(["a_1", "u_1"])
    timeline = page.locator(".timeline > li")
    expect(timeline.locator(".type")).to_have_text(
        ["Product Viewed", "identify", "Order Completed", "identify", "identify", "identify"])
    expect(timeline.first.locator(".tag")).to_have_text("anonymous")  # sent before the identify
    expect(timeline.first.locator(".small")).to_have_text("as anonymousId a_1")
    expect(page.locator(".step.linked .link-note")).to_have_text(
        "identities linked: userId u_1 ↔ anonymousId a_1")
    expect(page.locator(".step.linked time")).to_have_text("2026-11-01 09:05:00Z")
    expect(page).to_have_url(re.compile(r"#actor\?id=u_1$"))
    screenshot(page, "actor-u_1", full_page=True)

    show_actor(page, "a_1")  # any identifier finds the same actor
    expect(page.locator(".actor-head .who")).to_have_text("u_1")
    show_actor(page, "nobody")
    expect(page.locator("#actor .notice")).to_have_text(
        "No actor has the identifier nobody (as a userId or an anonymousId).")


def test_an_audience_label_history_shows_true_false_true(page: Page, mock: MockHandle) -> None:
    send_story(mock)
    open_dashboard(page, mock, "actor?id=u_1")

    history = page.locator(f'.histories > li[data-label="{AUDIENCE}"]')
    expect(history.locator(".summary")).to_have_text("true → false → true")
    expect(history.locator(".changes li")).to_have_text([
        "true 2026-11-02 12:00:00Z", "false 2026-11-10 12:00:00Z", "true 2026-11-20 12:00:00Z"])
    profile = page.locator(".kv tr", has=page.locator("th", has_text=AUDIENCE))
    expect(profile.locator("td")).to_have_text("true")
    chart = page.locator("#actor .chart svg")
    expect(chart).to_have_attribute("aria-label", re.compile(
        f"{AUDIENCE}: true then false then true$"))
    expect(chart.locator("rect.member")).to_have_count(2)
    expect(chart.locator("rect.not-member")).to_have_count(1)
    screenshot(page, "audience-history", full_page=True)


def test_the_actor_view_follows_new_events_of_that_actor(page: Page, mock: MockHandle) -> None:
    send_story(mock, fault=False)
    open_dashboard(page, mock, "actor?id=u_1")
    expect(page.locator(".timeline > li")).to_have_count(6)
    mock.send(identify("2026-11-25T12:00:00Z", {AUDIENCE: "false"}, userId="u_1"))
    expect(page.locator(".timeline > li")).to_have_count(7, timeout=2 * SECOND)
    expect(page.locator(f'.histories > li[data-label="{AUDIENCE}"] .summary')).to_have_text(
        "true → false → true → false")


def test_a_rejected_request_appears_in_red_with_its_reasons(page: Page, mock: MockHandle) -> None:
    open_dashboard(page, mock)
    with pytest.raises(MockError) as refused:
        mock.send({"eventType": "Order Completed", "eventTime": "yesterday",
                   "actors": customer(userId="u_1")})
    assert refused.value.status == 400

    row = feed_rows(page).first
    expect(row).to_have_class(re.compile(r"\brejected\b"), timeout=SECOND)
    expect(row.locator(".type")).to_have_text("Rejected 400 invalid_payload")
    expect(row.locator(".reason")).to_have_text(refused.value.args[0].split(": ", 1)[1])
    expect(row.locator(".violations li")).to_have_text([re.compile(r'^\$\.eventTime "yesterday"')])
    expect(row.locator(".type")).to_have_css("color", RED)
    expect(row).to_have_css("border-left-color", RED)
    expect(page.locator('.total[data-name="rejected"] dd')).to_have_text("1", timeout=SECOND)
    screenshot(page, "rejected-in-red")


def test_conflicts_and_fault_rules_are_listed(page: Page, mock: MockHandle) -> None:
    send_story(mock)
    open_dashboard(page, mock, "conflicts")
    expect(page.locator('nav.tabs [data-view="conflicts"] .count')).to_have_text("1")
    expect(page.locator("#conflicts tbody td")).to_have_text(
        ["anonymousId a_1", "u_1", "u_2", "evt_0000000007"])
    screenshot(page, "conflicts")

    page.locator('nav.tabs button[data-view="faults"]').click()
    expect(page.locator('nav.tabs [data-view="faults"] .count')).to_have_text("1")
    expect(page.locator("#faults tbody td")).to_have_text(
        ["flt_1", "status", "status 503", "2 requests", "0 of 0", "active"])
    screenshot(page, "faults")


def test_a_reset_empties_the_page(page: Page, mock: MockHandle) -> None:
    send_story(mock)
    open_dashboard(page, mock)
    expect(feed_rows(page)).to_have_count(8)
    mock.reset()
    expect(feed_rows(page)).to_have_count(0, timeout=SECOND)
    expect(page.locator('.total[data-name="events"] dd')).to_have_text("0", timeout=SECOND)


def test_the_token_is_remembered_and_a_token_link_opens_that_tenant(
    page: Page, mock: MockHandle
) -> None:
    mock.send(make_event(eventType="Remembered"))
    open_dashboard(page, mock)
    page.goto(f"{mock.url}/")  # no token in the link: the page remembers the last one
    expect(page.locator("#token")).to_have_value(mock.token)
    expect(page.locator("#status")).to_have_text("live")
    expect(feed_rows(page).locator(".type")).to_have_text(["Remembered"])

    page.locator("#token").fill("another-tenant")
    page.locator("#token").press("Enter")
    expect(page.locator("#status")).to_have_text("live")
    expect(feed_rows(page)).to_have_count(0)
    expect(page).to_have_url(f"{mock.url}/?token=another-tenant")


VIEWS = ["live", "actor?id=u_1", "conflicts", "faults"]


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize(("size", "viewport"), [("1280x800", DESKTOP), ("390x844", PHONE)])
def test_every_view_fits_the_window_in_both_themes(
    browser: Browser, mock: MockHandle, size: str, viewport: dict[str, int], scheme: str
) -> None:
    send_story(mock)
    context = browser.new_context(viewport=viewport, color_scheme=scheme)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        open_dashboard(page, mock)
        dark = page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches")
        assert dark is (scheme == "dark")
        for view in VIEWS:
            page.goto(f"{mock.url}/?token={mock.token}#{view}")
            expect(page.locator("#status")).to_have_text("live")
            name = view.split("?")[0]
            expect(page.locator(f"#view-{name}")).to_be_visible()
            if name == "actor":
                expect(page.locator(".histories .summary").first).to_be_visible()
            # Nothing wider than the window: no sideways scrolling of the page.
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
            screenshot(page, f"view-{name}-{size}-{scheme}", full_page=name == "actor")
        assert errors == []
    finally:
        context.close()
