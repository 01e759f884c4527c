"""The inspection API over HTTP: event filters and paging, the server-side wait, query errors,
unknown actors and the rejected-requests log."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import ClientSession

from tests.conftest import make_event

Json = dict[str, Any]

# (eventType, eventTime) in arrival order; the last one arrives last but happened first.
SCENE = [
    ("Product Viewed", "2026-11-28T10:00:00.000Z"),
    ("Product Added", "2026-11-28T10:01:00.000Z"),
    ("Product Viewed", "2026-11-28T10:02:00.000Z"),
    ("Order Completed", "2026-11-28T10:03:00.000Z"),
    ("Product Viewed", "2026-11-28T09:59:00.000Z"),
]


def event_id(seq: int) -> str:
    return f"evt_{seq:010d}"


async def send(http: ClientSession, url: str, event: Json) -> str:
    async with http.post(f"{url}/event", json=event) as response:
        assert response.status == 202, await response.text()
        answer: Json = await response.json()
        return str(answer["id"])


async def get(http: ClientSession, url: str, path: str, **params: Any) -> tuple[int, Json]:
    async with http.get(f"{url}{path}", params=params) as response:
        assert response.content_type == "application/json"
        body: Json = await response.json()
        return response.status, body


async def page(http: ClientSession, url: str, **params: Any) -> tuple[int, list[str]]:
    """(total, ids) of GET /_mock/events with these parameters."""
    status, body = await get(http, url, "/_mock/events", **params)
    assert status == 200, body
    return body["total"], [item["id"] for item in body["events"]]


@pytest.fixture
async def scene(mock_url: str, http: ClientSession) -> list[str]:
    ids = [await send(http, mock_url, make_event(eventType=kind, eventTime=moment))
           for kind, moment in SCENE]
    assert ids == [event_id(n) for n in range(1, 6)]
    return ids


async def test_events_are_listed_in_arrival_order_with_their_total(
    mock_url: str, http: ClientSession, scene: list[str]
) -> None:
    status, body = await get(http, mock_url, "/_mock/events")
    assert status == 200
    assert body["total"] == 5
    assert [(e["id"], e["event"]["eventType"], e["eventTime"]) for e in body["events"]] == [
        (event_id(n + 1), kind, moment) for n, (kind, moment) in enumerate(SCENE)
    ]
    assert "minCountReached" not in body


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"eventType": "Product Viewed"}, (3, [1, 3, 5])),
        ({"eventType": "Nothing Like It"}, (0, [])),
        ({"since": "2026-11-28T10:01:00Z"}, (3, [2, 3, 4])),  # inclusive
        ({"until": "2026-11-28T10:01:00Z"}, (3, [1, 2, 5])),  # inclusive
        ({"since": "2026-11-28T11:01:00+01:00"}, (3, [2, 3, 4])),  # any zone, compared in UTC
        ({"since": "2026-11-28T10:00:30Z", "until": "2026-11-28T10:02:30Z"}, (2, [2, 3])),
        ({"since": "2026-11-28T10:00:00Z", "eventType": "Product Viewed"}, (2, [1, 3])),
        ({"limit": 2}, (5, [1, 2])),
        ({"limit": 0}, (5, [])),
        ({"offset": 3}, (5, [4, 5])),
        ({"offset": 5}, (5, [])),
        ({"limit": 2, "offset": 2}, (5, [3, 4])),
        ({"order": "desc"}, (5, [5, 4, 3, 2, 1])),
        ({"order": "desc", "limit": 2, "offset": 1}, (5, [4, 3])),
        ({"order": "desc", "eventType": "Product Viewed", "limit": 2}, (3, [5, 3])),
        ({"order": "asc", "userId": "u_1", "limit": 1}, (5, [1])),
        ({"anonymousId": "nobody"}, (0, [])),
    ],
)
async def test_event_filters_and_paging(
    mock_url: str, http: ClientSession, scene: list[str], params: Json,
    expected: tuple[int, list[int]],
) -> None:
    total, seqs = expected
    assert await page(http, mock_url, **params) == (total, [event_id(n) for n in seqs])


async def test_since_and_until_order_years_before_1000_correctly(
    mock_url: str, http: ClientSession
) -> None:
    ancient = await send(http, mock_url, make_event(eventTime="0999-06-01T00:00:00Z"))
    modern = await send(http, mock_url, make_event(eventTime="2026-11-28T10:00:00Z"))
    assert await page(http, mock_url, since="2000-01-01T00:00:00Z") == (1, [modern])
    assert await page(http, mock_url, until="1000-01-01T00:00:00Z") == (1, [ancient])
    _, body = await get(http, mock_url, "/_mock/events")
    assert [e["eventTime"] for e in body["events"]] == [
        "0999-06-01T00:00:00.000Z", "2026-11-28T10:00:00.000Z"]


async def test_min_count_waits_server_side_until_the_events_exist(
    mock_url: str, http: ClientSession
) -> None:
    wait = asyncio.create_task(get(http, mock_url, "/_mock/events", min_count=2,
                                   eventType="Order Completed", timeout=25))
    # Other events and a first match do not end the wait: it needs two matches.
    other = await send(http, mock_url, make_event(eventType="Product Viewed"))
    first = await send(http, mock_url, make_event(eventType="Order Completed"))
    assert not wait.done()
    second = await send(http, mock_url, make_event(eventType="Order Completed"))
    # The server-side timeout is 25 s; waking must not depend on it.
    status, body = await asyncio.wait_for(wait, timeout=10)
    assert status == 200
    assert body["minCountReached"] is True
    assert body["total"] == 2
    assert [e["id"] for e in body["events"]] == [first, second]
    assert other == event_id(1)


async def test_min_count_already_met_answers_at_once(
    mock_url: str, http: ClientSession, scene: list[str]
) -> None:
    status, body = await get(http, mock_url, "/_mock/events", min_count=3,
                             eventType="Product Viewed", timeout=0)
    assert (status, body["minCountReached"], body["total"]) == (200, True, 3)
    assert [e["id"] for e in body["events"]] == [event_id(1), event_id(3), event_id(5)]


async def test_a_wait_that_cannot_be_met_answers_false_after_its_timeout(
    mock_url: str, http: ClientSession
) -> None:
    only = await send(http, mock_url, make_event())
    status, body = await get(http, mock_url, "/_mock/events", min_count=2, timeout=0.2)
    assert status == 200
    assert body["minCountReached"] is False
    assert body["total"] == 1
    assert [e["id"] for e in body["events"]] == [only]


def invalid_query(message: str) -> Json:
    return {"error": {"code": "invalid_query", "message": message, "details": {}}}


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        ("/_mock/events", {"limit": "-1"}, "limit must be between 0 and 10000, not -1"),
        ("/_mock/events", {"limit": "abc"}, "limit must be a whole number, not 'abc'"),
        ("/_mock/events", {"limit": "10001"}, "limit must be between 0 and 10000, not 10001"),
        ("/_mock/events", {"offset": "-3"},
         "offset must be between 0 and 4611686018427387904, not -3"),
        ("/_mock/events", {"since": "garbage"},
         "since must be a date-time with a zone, e.g. 2026-11-28T10:00:00Z"),
        ("/_mock/events", {"until": "2026-11-28"},
         "until must be a date-time with a zone, e.g. 2026-11-28T10:00:00Z"),
        ("/_mock/events", {"order": "sideways"}, "order must be asc or desc, not 'sideways'"),
        ("/_mock/events", {"min_count": "1", "timeout": "31"},
         "timeout must be between 0 and 30 seconds, not 31"),
        ("/_mock/events", {"timeout": "31"},  # checked even without min_count
         "timeout must be between 0 and 30 seconds, not 31"),
        ("/_mock/events", {"min_count": "1", "timeout": "soon"},
         "timeout must be a number of seconds, not 'soon'"),
        ("/_mock/events", {"min_count": "1", "timeout": "nan"},
         "timeout must be between 0 and 30 seconds, not nan"),
        ("/_mock/events", {"min_count": "-1"},
         "min_count must be between 0 and 4611686018427387904, not -1"),
        ("/_mock/actor", {}, "give exactly one of userId or anonymousId, e.g. ?userId=u_1"),
        ("/_mock/actor", {"userId": "u_1", "anonymousId": "a_9"},
         "give exactly one of userId or anonymousId, e.g. ?userId=u_1"),
        ("/_mock/actor", {"userId": ""},
         "give exactly one of userId or anonymousId, e.g. ?userId=u_1"),
        ("/_mock/actors", {"limit": "x"}, "limit must be a whole number, not 'x'"),
    ],
)
async def test_invalid_query_parameters_are_400_invalid_query(
    mock_url: str, http: ClientSession, path: str, params: Json, message: str
) -> None:
    await send(http, mock_url, make_event())
    assert await get(http, mock_url, path, **params) == (400, invalid_query(message))


async def test_an_unknown_actor_is_404_actor_not_found(
    mock_url: str, http: ClientSession, scene: list[str]
) -> None:
    assert await get(http, mock_url, "/_mock/actor", userId="nobody") == (404, {"error": {
        "code": "actor_not_found",
        "message": "no actor of type 'Customer' has userId 'nobody'",
        "details": {"actorType": "Customer", "userId": "nobody"},
    }})
    # u_1 exists, but not as another actor type.
    assert await get(http, mock_url, "/_mock/actor", userId="u_1", actorType="Account") == (
        404, {"error": {
            "code": "actor_not_found",
            "message": "no actor of type 'Account' has userId 'u_1'",
            "details": {"actorType": "Account", "userId": "u_1"},
        }})


async def test_rejected_requests_are_listed_newest_first_with_their_reasons(
    mock_url: str, http: ClientSession
) -> None:
    before = datetime.now(UTC)
    # 1: not JSON, with a body longer than the 512-character excerpt.
    not_json = "{" + "x" * 600
    async with http.post(f"{mock_url}/event", data=not_json.encode(),
                         headers={"Content-Type": "application/json"}) as response:
        assert response.status == 400
    # 2: valid JSON, invalid event.
    bad_event = {"eventType": "", "eventTime": "2026-11-28T10:00:00Z", "actors": {}}
    async with http.post(f"{mock_url}/event", json=bad_event) as response:
        assert response.status == 400
    # 3: not JSON at all by its Content-Type; the body is never read.
    async with http.post(f"{mock_url}/events", data=b"a=1",
                         headers={"Content-Type": "application/x-www-form-urlencoded"}) as r:
        assert r.status == 415
    # 4: an invalid batch item.
    batch = [make_event(), make_event(numbers={"revenue": True})]
    async with http.post(f"{mock_url}/events", json=batch) as response:
        assert response.status == 400
    # A valid event is never listed as rejected.
    await send(http, mock_url, make_event())
    after = datetime.now(UTC)

    status, body = await get(http, mock_url, "/_mock/rejected")
    assert status == 200
    rejected = body["rejected"]
    for item in rejected:
        moment = datetime.strptime(item.pop("at"), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        assert before.replace(microsecond=before.microsecond // 1000 * 1000) <= moment <= after
    assert rejected == [
        {"method": "POST", "path": "/events", "status": 400, "code": "invalid_payload",
         "message": "1 of 2 events are invalid; nothing was stored: $[1].numbers.revenue: "
                    'true is not of type "number", "string"',
         "violations": [{"path": "$[1].numbers.revenue",
                         "message": 'true is not of type "number", "string"'}],
         "bodyExcerpt": json.dumps(batch)[:512]},
        {"method": "POST", "path": "/events", "status": 415, "code": "unsupported_media_type",
         "message": "Content-Type 'application/x-www-form-urlencoded' is not JSON; "
                    "send application/json (or no Content-Type)",
         "violations": [], "bodyExcerpt": ""},
        {"method": "POST", "path": "/event", "status": 400, "code": "invalid_payload",
         "message": "the event is invalid: $.actors: {} should be non-empty (and 1 more)",
         "violations": [{"path": "$.actors", "message": "{} should be non-empty"},
                        {"path": "$.eventType", "message": '"" should be non-empty'}],
         "bodyExcerpt": json.dumps(bad_event)},
        {"method": "POST", "path": "/event", "status": 400, "code": "invalid_json",
         "message": "body is not valid JSON: Expecting property name enclosed in double quotes "
                    "at line 1 column 2",
         "violations": [], "bodyExcerpt": not_json[:512]},
    ]
    _, stats = await get(http, mock_url, "/_mock/stats")
    assert (stats["rejected"], stats["events"]) == (4, 1)
