"""A lone surrogate escape (`"\\ud800"`, no pair) in a Segment body is refused with a 400 that
says where it is, counted in GET /_gateway/stats, and never delivered: a rewrite to U+FFFD
would make different userIds one actor. A real gateway in front of a real mock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import ClientSession

from tests.e2e.gateway_helpers import (
    SUCCESS,
    counts,
    event,
    gateway_stats,
    mock_events,
    post,
    run_gateway,
    track,
)

FIX = ("which is not a character; send valid Unicode text (escape a character beyond U+FFFF "
       "as a surrogate pair)")


def refused(where: str, escape: str) -> tuple[int, dict[str, str]]:
    return 400, {"code": "invalid_request",
                 "message": f"Invalid JSON: {where} holds a lone surrogate escape {escape}, {FIX}"}


@pytest.fixture
async def gateway_url(mock_url: str, token: str) -> AsyncIterator[str]:
    async with run_gateway(mock_url, token) as url:
        yield url


async def test_two_userids_with_lone_surrogates_are_both_refused_and_counted_nothing_delivered(
    gateway_url: str, mock_url: str, http: ClientSession
) -> None:
    # json.dumps writes a lone surrogate as the escape \ud800, as JSON.stringify does.
    first = await post(http, f"{gateway_url}/v1/track", track("m-1", user="\ud800"))
    second = await post(http, f"{gateway_url}/v1/track", track("m-2", user="\udbff"))
    assert (first, second) == (refused("userId", "\\ud800"), refused("userId", "\\udbff"))

    # A valid message after them: once it is delivered, anything accepted before it would be.
    assert await post(http, f"{gateway_url}/v1/track", track("m-3", user="u_ok")) == (
        200, SUCCESS)
    assert await gateway_stats(http, gateway_url, delivered=1) == counts(
        received=1, delivered=1, loneSurrogatesRefused=2)
    assert await mock_events(http, mock_url) == [
        event("Order Completed", {"userId": "u_ok"})]


@pytest.mark.parametrize(("route", "body", "where", "escape"), [
    ("track", track("m-e", event="Order \ud83d"), "event", "\\ud83d"),
    ("track", track("m-p", properties={"note": "cut \ude00"}), "properties.note", "\\ude00"),
    ("track", track("m-k", properties={"\ud800": 1}), "a key in properties", "\\ud800"),
    ("batch", {"batch": [track("m-b0"), track("m-b1", properties={"items": ["a", "\udfff"]})]},
     "batch[1].properties.items[1]", "\\udfff"),
])
async def test_a_lone_surrogate_anywhere_refuses_the_whole_request_and_names_where(
    gateway_url: str, http: ClientSession, route: str, body: dict[str, object], where: str,
    escape: str,
) -> None:
    assert await post(http, f"{gateway_url}/v1/{route}", body) == refused(where, escape)
    assert await gateway_stats(http, gateway_url) == counts(loneSurrogatesRefused=1)


async def test_a_surrogate_pair_is_a_character_and_is_delivered(
    gateway_url: str, mock_url: str, http: ClientSession
) -> None:
    # json.dumps escapes the emoji as the pair \ud83d\ude00: one character, not a lone half.
    assert await post(http, f"{gateway_url}/v1/track",
                      track("m-emoji", properties={"note": "\U0001f600"})) == (200, SUCCESS)
    assert await gateway_stats(http, gateway_url, delivered=1) == counts(
        received=1, delivered=1)
    assert await mock_events(http, mock_url) == [
        event("Order Completed", {"userId": "u_1"}, labels={"note": "\U0001f600"})]
