"""GET /_mock/labels/history on a live mock: one entry per identify that set the label, in
eventTime order, over the whole stitched actor."""

from __future__ import annotations

from typing import Any

from aiohttp import ClientSession

from tests.conftest import make_event

Json = dict[str, Any]


def identify(event_time: str, labels: Json | None = None, numbers: Json | None = None,
             **actor: str) -> Json:
    return make_event(eventType="identify", eventTime=event_time,
                      actors={"Customer": actor}, labels=labels or {}, numbers=numbers or {})


async def store(http: ClientSession, url: str, *events: Json) -> None:
    for event in events:
        async with http.post(f"{url}/event", json=event) as response:
            assert response.status == 202, await response.text()


async def history(http: ClientSession, url: str, **params: str) -> tuple[int, Json]:
    async with http.get(f"{url}/_mock/labels/history", params=params) as response:
        return response.status, await response.json()


async def test_history_is_in_event_time_order_over_the_stitched_actor(
    mock_url: str, http: ClientSession
) -> None:
    await store(
        http, mock_url,
        # arrives first, happened last
        identify("2026-03-01T00:00:00.000Z", {"vip": "true"}, userId="u_1"),
        identify("2026-01-01T00:00:00.000Z", {"vip": "true"}, anonymousId="a_1"),
        make_event(eventTime="2026-01-15T00:00:00.000Z", labels={"vip": "false"},
                   actors={"Customer": {"userId": "u_1"}}),  # a track: not a profile change
        identify("2026-02-01T00:00:00.000Z", {"vip": "false", "plan": "pro"},
                 userId="u_1", anonymousId="a_1"),  # links a_1 to u_1
        identify("2026-02-15T00:00:00.000+01:00", {"plan": "team"}, userId="u_1"),
        identify("2026-02-20T00:00:00.000Z", {"vip": "true"}, userId="u_2"),  # someone else
    )
    expected = {"history": [
        {"eventTime": "2026-01-01T00:00:00.000Z", "value": "true"},
        {"eventTime": "2026-02-01T00:00:00.000Z", "value": "false"},
        {"eventTime": "2026-03-01T00:00:00.000Z", "value": "true"},
    ]}
    assert await history(http, mock_url, userId="u_1", label="vip") == (200, expected)
    assert await history(http, mock_url, anonymousId="a_1", label="vip") == (200, expected)
    assert await history(http, mock_url, userId="u_1", label="plan") == (200, {"history": [
        {"eventTime": "2026-02-01T00:00:00.000Z", "value": "pro"},
        {"eventTime": "2026-02-14T23:00:00.000Z", "value": "team"},
    ]})
    assert await history(http, mock_url, userId="u_1", label="never") == (200, {"history": []})
    async with http.get(f"{mock_url}/_mock/actor", params={"userId": "u_1"}) as response:
        assert (await response.json())["labels"] == {"plan": "team", "vip": "true"}


async def test_numbers_have_a_history_too_and_equal_times_keep_arrival_order(
    mock_url: str, http: ClientSession
) -> None:
    t = "2026-01-01T00:00:00.000Z"
    await store(
        http, mock_url,
        identify(t, numbers={"orders_last_90_days": 1}, userId="u_1"),
        identify(t, numbers={"orders_last_90_days": 2.5}, userId="u_1"),
        identify("2026-01-02T00:00:00.000Z", labels={"orders_last_90_days": "n/a"},
                 userId="u_1"),
        identify("2026-01-03T00:00:00.000Z", labels={"orders_last_90_days": "x"},
                 numbers={"orders_last_90_days": 0}, userId="u_1"),
    )
    assert await history(http, mock_url, userId="u_1", label="orders_last_90_days") == (
        200, {"history": [
            {"eventTime": t, "value": 1},
            {"eventTime": t, "value": 2.5},
            {"eventTime": "2026-01-02T00:00:00.000Z", "value": "n/a"},
            {"eventTime": "2026-01-03T00:00:00.000Z", "value": 0},  # the number wins
        ]})


async def test_history_errors(mock_url: str, http: ClientSession) -> None:
    await store(http, mock_url, identify("2026-01-01T00:00:00.000Z", {"vip": "true"},
                                         userId="u_1"))
    status, body = await history(http, mock_url, userId="u_2", label="vip")
    assert (status, body["error"]["code"], body["error"]["details"]) == (
        404, "actor_not_found", {"actorType": "Customer", "userId": "u_2"})
    status, body = await history(http, mock_url, userId="u_1", label="vip",
                                 actorType="Account")
    assert (status, body["error"]["code"]) == (404, "actor_not_found")
    for params in ({"userId": "u_1"}, {"userId": "u_1", "label": ""},
                   {"label": "vip"}, {"userId": "u_1", "anonymousId": "a", "label": "vip"},
                   {"userId": "", "label": "vip"}):
        status, body = await history(http, mock_url, **params)
        assert (status, body["error"]["code"]) == (400, "invalid_query"), params
    params = {"userId": "u_1", "label": "vip"}
    async with ClientSession() as anonymous, anonymous.get(
            f"{mock_url}/_mock/labels/history", params=params) as response:
        assert response.status == 401


async def test_another_token_sees_no_history(
    mock_url: str, http: ClientSession
) -> None:
    await store(http, mock_url, identify("2026-01-01T00:00:00.000Z", {"vip": "true"},
                                         userId="u_1"))
    params = {"userId": "u_1", "label": "vip"}
    async with ClientSession(headers={"apiToken": "another-tenant"}) as other, other.get(
            f"{mock_url}/_mock/labels/history", params=params) as response:
        assert response.status == 404
        assert (await response.json())["error"]["code"] == "actor_not_found"
