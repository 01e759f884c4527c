"""Protocols' Schema Configuration where its docs speak (quoted in connector/plans/enforcing.py),
on the terraform-bot-filter real plan: Omit Properties with a rule that lists none, Omit on a
common-rule violation, the common rule checking what the standard controls left, and unplanned
properties as violations only when asked. Pure, then through a live gateway."""

from __future__ import annotations

from typing import Any

from aiohttp import ClientSession

from connector.plans import ProtocolsSettings, evaluate, load_plan
from tests.e2e.gateway_helpers import gateway_stats, get, post, run_gateway
from tests.plans.golden import ROOT

PLAN = load_plan(ROOT / "real" / "terraform-bot-filter" / "plan.json")
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"


def track(event: str, properties: dict[str, Any], agent: str = BROWSER) -> dict[str, Any]:
    return {"type": "track", "messageId": "m-1", "userId": "u_1", "event": event,
            "context": {"userAgent": agent, "page": {"path": "/"}}, "properties": properties}


def test_omit_properties_removes_every_property_of_a_rule_that_lists_none() -> None:
    verdict = evaluate(track("New Rule", {"source": "banner", "slot": 2}), PLAN,
                       ProtocolsSettings(unplanned_properties="omit"))
    assert verdict.message is not None
    assert verdict.message["properties"] == {}
    assert verdict.message["context"]["protocols"] == {
        "violations": [], "omitted": ["source", "slot"]}
    assert [v.path for v in verdict.findings.unplanned] == [
        "properties.source", "properties.slot"]


def test_omit_properties_removes_the_properties_of_an_unplanned_event() -> None:
    verdict = evaluate(track("Banner Seen", {"slot": 2}), PLAN,
                       ProtocolsSettings(unplanned_properties="omit"))
    assert verdict.message is not None
    assert verdict.message["properties"] == {}
    assert [v.kind for v in verdict.findings.violations] == ["unplanned_event"]


def test_omit_on_a_common_violation_removes_the_offending_field_only() -> None:
    message = track("Product Added", {"brand": "Acme"}, agent="Googlebot/2.1")
    verdict = evaluate(message, PLAN, ProtocolsSettings(violations="omit"))
    assert verdict.message is not None
    assert verdict.message["context"] == {
        "page": {"path": "/"},
        "protocols": {
            "violations": [{"type": "Invalid Value", "field": "context.userAgent",
                            "description": "context.userAgent must not match the pattern "
                            "\"(bot|crawl|spider|tiktokbot|tiktokcrawler|tiktokapi|slurp|m..., "
                            "as \"Googlebot/2.1\" does"}],
            "omitted_on_violation": ["context.userAgent"]}}
    assert message["context"]["userAgent"] == "Googlebot/2.1"  # the original is left as it was


def test_block_on_a_common_violation_blocks_and_unplanned_fail_only_when_asked() -> None:
    bot = track("Product Added", {"brand": "Acme"}, agent="Googlebot/2.1")
    blocked = evaluate(bot, PLAN, ProtocolsSettings(violations="block"))
    assert blocked.message is None
    assert blocked.blocked == (
        "JSON Schema violations are blocked: context.userAgent must not match the pattern "
        "\"(bot|crawl|spider|tiktokbot|tiktokcrawler|tiktokapi|slurp|m..., as "
        "\"Googlebot/2.1\" does")
    extra = track("Product Added", {"brand": "Acme", "coupon": "X"})
    quiet = evaluate(extra, PLAN, ProtocolsSettings())
    assert quiet.message == extra
    loud = evaluate(extra, PLAN, ProtocolsSettings(fail_on_unplanned_properties=True))
    assert loud.message is not None
    assert loud.message["context"]["protocols"] == {"violations": [
        {"type": "Unplanned Property", "field": "properties.coupon",
         "description": "properties.coupon is not in the tracking plan for \"Product Added\""}]}


async def test_a_gateway_counts_unplanned_properties_apart_unless_told_to_fail(
    mock_url: str, token: str, http: ClientSession
) -> None:
    for fail, counts in ((False, (0, 0, 1)), (True, (1, 1, 0))):
        message = {**track("Product Added", {"brand": "Acme", "coupon": "X"}),
                   "messageId": f"m-{fail}"}
        settings = ProtocolsSettings(fail_on_unplanned_properties=fail)
        async with run_gateway(mock_url, token, plan=PLAN, protocols=settings) as gateway:
            assert (await post(http, f"{gateway}/v1/track", message))[0] == 200
            stats = await gateway_stats(http, gateway, delivered=1)
            assert (stats["violations"], stats["violatingMessages"],
                    stats["unplannedProperties"]) == counts
            status, stored = await get(http, f"{gateway}/_gateway/messages/m-{fail}")
            assert status == 200
            protocols = stored["message"]["context"].get("protocols")
            assert protocols == ({"violations": [
                {"type": "Unplanned Property", "field": "properties.coupon",
                 "description": "properties.coupon is not in the tracking plan for "
                 "\"Product Added\""}]} if fail else None)
