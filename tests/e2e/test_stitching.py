"""Identity stitching over HTTP: anonymous history joins the user at identify, profiles,
links, several anonymousIds, conflicts between users, stats and the actors listing."""

from __future__ import annotations

from typing import Any

from aiohttp import ClientSession

from tests.conftest import make_event

Json = dict[str, Any]


def event_id(seq: int) -> str:
    return f"evt_{seq:010d}"


def ids(*seqs: int) -> list[str]:
    return [event_id(seq) for seq in seqs]


def customer(**identifiers: str) -> Json:
    return {"Customer": identifiers}


def event(event_type: str, minute: int, actors: Json, labels: Json | None = None,
          numbers: Json | None = None) -> Json:
    return make_event(eventType=event_type, eventTime=f"2026-11-28T10:{minute:02d}:00.000Z",
                      actors=actors, labels=labels or {}, numbers=numbers or {})


async def send_all(http: ClientSession, url: str, events: list[Json]) -> list[str]:
    sent = []
    for item in events:
        async with http.post(f"{url}/event", json=item) as response:
            assert response.status == 202, await response.text()
            sent.append((await response.json())["id"])
    return sent


async def get(http: ClientSession, url: str, path: str, **params: Any) -> Json:
    async with http.get(f"{url}{path}", params=params) as response:
        assert response.status == 200, await response.text()
        body: Json = await response.json()
        return body


def by_identifier(identifiers: list[Json]) -> list[tuple[str, str]]:
    return sorted((item["name"], item["value"]) for item in identifiers)


# The story: three anonymous events, an identify joining a_1 to u_1, then more identifies and
# a track. Times are not in arrival order, to show the profile follows eventTime.
STORY = [
    event("Product Viewed", 0, customer(anonymousId="a_1"), {"product": "Lamp"}, {"price": 49.5}),
    event("Product Added", 1, customer(anonymousId="a_1"), {"product": "Lamp"}, {"quantity": 1}),
    event("Checkout Started", 2, customer(anonymousId="a_1")),
    event("identify", 5, customer(userId="u_1", anonymousId="a_1"),
          {"email": "ada@example.com", "plan": "pro", "tier": "gold"},
          {"logins": "3", "ltv": "80.77"}),
    # Older than the identify above though it arrives later: its plan and logins lose.
    event("identify", 4, customer(userId="u_1"), {"plan": "free", "company": "Acme"},
          {"logins": 1, "age": 36}),
    # Same eventTime as the first identify: arrival breaks the tie, so this email wins and
    # tier moves from labels to numbers.
    event("identify", 5, customer(anonymousId="a_1"), {"email": "ada@new.example"}, {"tier": 2}),
    # Not an identify: its labels never reach the profile.
    event("Order Completed", 6, customer(userId="u_1"), {"plan": "enterprise"}, {"revenue": 9}),
]


async def test_an_identify_stitches_the_anonymous_history_to_the_user(
    mock_url: str, http: ClientSession
) -> None:
    sent = await send_all(http, mock_url, STORY)
    assert sent == ids(1, 2, 3, 4, 5, 6, 7)

    expected = {
        "actorType": "Customer",
        "userId": "u_1",
        "identifiers": {"anonymousId": ["a_1"], "userId": ["u_1"]},
        "identifierCounts": {"anonymousId": 1, "userId": 1},
        "labels": {"company": "Acme", "email": "ada@new.example", "plan": "pro"},
        "numbers": {"age": 36, "logins": 3, "ltv": 80.77, "tier": 2},
        "eventCount": 7, "limit": 50, "offset": 0, "linkCount": 1,
    }
    for params in ({"userId": "u_1"}, {"anonymousId": "a_1"}):
        actor = await get(http, mock_url, "/_mock/actor", **params)
        events = actor.pop("events")
        links = actor.pop("links")
        assert actor == expected, params
        assert [e["id"] for e in events] == ids(1, 2, 3, 4, 5, 6, 7)
        assert [e["event"] for e in events] == STORY
        assert [e["eventTime"] for e in events] == [s["eventTime"] for s in STORY]
        assert [(link["eventId"], link["eventTime"]) for link in links] == [
            (event_id(4), "2026-11-28T10:05:00.000Z")]
        assert by_identifier(links[0]["identifiers"]) == [
            ("anonymousId", "a_1"), ("userId", "u_1")]
        assert sorted(links[0]) == ["eventId", "eventTime", "identifiers"]


async def test_events_by_user_or_anonymous_id_are_the_stitched_events(
    mock_url: str, http: ClientSession
) -> None:
    await send_all(http, mock_url, STORY)
    for params in ({"userId": "u_1"}, {"anonymousId": "a_1"}):
        body = await get(http, mock_url, "/_mock/events", **params)
        assert body["total"] == 7
        assert [e["id"] for e in body["events"]] == ids(1, 2, 3, 4, 5, 6, 7)
    body = await get(http, mock_url, "/_mock/events", userId="u_1", eventType="identify")
    assert (body["total"], [e["id"] for e in body["events"]]) == (3, ids(4, 5, 6))
    body = await get(http, mock_url, "/_mock/events", anonymousId="a_1", order="desc", limit=2)
    assert (body["total"], [e["id"] for e in body["events"]]) == (7, ids(7, 6))
    # Both identifiers at once intersect: the same actor, so the same events.
    body = await get(http, mock_url, "/_mock/events", userId="u_1", anonymousId="a_1")
    assert body["total"] == 7
    stats = await get(http, mock_url, "/_mock/stats")
    assert stats == {
        "events": 7,
        "eventTypes": {"Checkout Started": 1, "Order Completed": 1, "Product Added": 1,
                       "Product Viewed": 1, "identify": 3},
        "actors": 1, "stitchedActors": 1, "conflicts": 0, "rejected": 0, "idempotentReplays": 0,
        "duplicateIdempotencyKeys": 0,
    }


async def test_two_anonymous_ids_join_one_user(mock_url: str, http: ClientSession) -> None:
    await send_all(http, mock_url, [
        event("Product Viewed", 0, customer(anonymousId="a_1")),  # phone
        event("Product Viewed", 1, customer(anonymousId="a_2")),  # laptop
        event("Product Added", 2, customer(anonymousId="a_2")),
        event("identify", 3, customer(userId="u_1", anonymousId="a_1"), {"plan": "pro"}),
        event("Order Completed", 4, customer(userId="u_1", anonymousId="a_2")),
        event("Product Viewed", 5, customer(anonymousId="a_3")),  # a stranger
    ])
    for params in ({"userId": "u_1"}, {"anonymousId": "a_1"}, {"anonymousId": "a_2"}):
        actor = await get(http, mock_url, "/_mock/actor", **params)
        assert actor["userId"] == "u_1"
        assert actor["identifiers"] == {"anonymousId": ["a_1", "a_2"], "userId": ["u_1"]}
        assert actor["eventCount"] == 5
        assert [e["id"] for e in actor["events"]] == ids(1, 2, 3, 4, 5)
        assert (actor["labels"], actor["numbers"]) == ({"plan": "pro"}, {})
        assert [(link["eventId"], by_identifier(link["identifiers"]))
                for link in actor["links"]] == [
            (event_id(4), [("anonymousId", "a_1"), ("userId", "u_1")]),
            # A link records the identifiers of the event that made it.
            (event_id(5), [("anonymousId", "a_2"), ("userId", "u_1")]),
        ]
    stranger = await get(http, mock_url, "/_mock/actor", anonymousId="a_3")
    assert stranger == {
        "actorType": "Customer", "userId": None, "identifiers": {"anonymousId": ["a_3"]},
        "identifierCounts": {"anonymousId": 1}, "labels": {}, "numbers": {}, "eventCount": 1,
        "limit": 50, "offset": 0, "events": stranger["events"], "linkCount": 0, "links": [],
    }
    assert [e["id"] for e in stranger["events"]] == ids(6)
    stats = await get(http, mock_url, "/_mock/stats")
    assert (stats["actors"], stats["stitchedActors"], stats["conflicts"]) == (2, 1, 0)


async def test_an_anonymous_id_claimed_by_a_second_user_is_a_conflict_not_a_merge(
    mock_url: str, http: ClientSession
) -> None:
    await send_all(http, mock_url, [
        event("Product Viewed", 0, customer(anonymousId="x")),
        event("identify", 1, customer(userId="A", anonymousId="x"), {"name": "Ann"}),
        event("identify", 2, customer(userId="B", anonymousId="x"), {"name": "Bob"}),
        event("Order Completed", 3, customer(userId="B")),
        event("Page Viewed", 4, customer(anonymousId="x")),
    ])
    conflicts = await get(http, mock_url, "/_mock/conflicts")
    assert conflicts == {"conflicts": [{
        "actorType": "Customer",
        "identifier": {"name": "anonymousId", "value": "x"},
        "existingUserId": "A",
        "attemptedUserId": "B",
        "eventId": event_id(3),
    }]}

    for params in ({"userId": "A"}, {"anonymousId": "x"}):
        ann = await get(http, mock_url, "/_mock/actor", **params)
        assert ann["userId"] == "A"
        assert ann["identifiers"] == {"anonymousId": ["x"], "userId": ["A"]}
        assert (ann["eventCount"], [e["id"] for e in ann["events"]]) == (3, ids(1, 2, 5))
        assert ann["labels"] == {"name": "Ann"}
        assert [link["eventId"] for link in ann["links"]] == ids(2)
    bob = await get(http, mock_url, "/_mock/actor", userId="B")
    assert bob["userId"] == "B"
    assert bob["identifiers"] == {"userId": ["B"]}
    assert (bob["eventCount"], [e["id"] for e in bob["events"]]) == (2, ids(3, 4))
    assert bob["labels"] == {"name": "Bob"}
    assert bob["links"] == []

    body = await get(http, mock_url, "/_mock/events", anonymousId="x")
    assert (body["total"], [e["id"] for e in body["events"]]) == (3, ids(1, 2, 5))
    body = await get(http, mock_url, "/_mock/events", userId="B")
    assert (body["total"], [e["id"] for e in body["events"]]) == (2, ids(3, 4))
    stats = await get(http, mock_url, "/_mock/stats")
    assert (stats["actors"], stats["stitchedActors"], stats["conflicts"]) == (2, 1, 1)

    listing = await get(http, mock_url, "/_mock/actors")
    assert listing == {"total": 2, "actors": [
        {"actorType": "Customer", "userId": "A",
         "identifiers": {"anonymousId": ["x"], "userId": ["A"]}, "eventCount": 3},
        {"actorType": "Customer", "userId": "B", "identifiers": {"userId": ["B"]},
         "eventCount": 2},
    ]}


async def test_the_actors_listing_pages_in_order_of_first_event(
    mock_url: str, http: ClientSession
) -> None:
    await send_all(http, mock_url, [
        event("Product Viewed", 0, customer(anonymousId="a_1")),
        event("Signed Up", 1, customer(userId="u_2")),
        event("Product Viewed", 2, customer(anonymousId="a_3")),
        event("identify", 3, customer(userId="u_1", anonymousId="a_1")),
        event("Signed Up", 4, {"Account": {"accountId": "acme"}}),
    ])
    everyone = [
        {"actorType": "Customer", "userId": "u_1",
         "identifiers": {"anonymousId": ["a_1"], "userId": ["u_1"]}, "eventCount": 2},
        {"actorType": "Customer", "userId": "u_2", "identifiers": {"userId": ["u_2"]},
         "eventCount": 1},
        {"actorType": "Customer", "userId": None, "identifiers": {"anonymousId": ["a_3"]},
         "eventCount": 1},
        {"actorType": "Account", "userId": None, "identifiers": {"accountId": ["acme"]},
         "eventCount": 1},
    ]
    assert await get(http, mock_url, "/_mock/actors") == {"total": 4, "actors": everyone}
    assert await get(http, mock_url, "/_mock/actors", limit=2, offset=1) == {
        "total": 4, "actors": everyone[1:3]}
