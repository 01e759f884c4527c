"""The ingest API over HTTP: POST /event, POST /events, tokens, tenants, Idempotency-Key."""

from __future__ import annotations

import asyncio
import gzip
import json
import uuid
from pathlib import Path
from typing import Any

from aiohttp import ClientSession

from tests.conftest import StartMock, make_event

Json = dict[str, Any]


def new_token() -> str:
    return f"t-{uuid.uuid4().hex}"


def event_id(seq: int) -> str:
    return f"evt_{seq:010d}"


async def post(http: ClientSession, url: str, body: Any, **headers: str) -> tuple[int, Json]:
    async with http.post(url, json=body, headers=headers) as response:
        return response.status, await response.json()


async def listed(http: ClientSession, url: str, **params: Any) -> Json:
    async with http.get(f"{url}/_mock/events", params={"limit": 10_000, **params}) as response:
        assert response.status == 200
        answer: Json = await response.json()
        return answer


async def stats(http: ClientSession, url: str) -> Json:
    async with http.get(f"{url}/_mock/stats") as response:
        assert response.status == 200
        answer: Json = await response.json()
        return answer


def zero_stats(**changes: Any) -> Json:
    base: Json = {"events": 0, "eventTypes": {}, "actors": 0, "stitchedActors": 0,
                  "conflicts": 0, "rejected": 0, "idempotentReplays": 0,
                  "duplicateIdempotencyKeys": 0}
    return {**base, **changes}


# -- POST /event -----------------------------------------------------------------------------


async def test_post_event_answers_202_with_its_id_and_stores_it_as_sent(
    mock_url: str, http: ClientSession
) -> None:
    event = make_event()
    status, answer = await post(http, f"{mock_url}/event", event)
    assert (status, answer) == (202, {"id": event_id(1), "duplicate": False})
    stored = await listed(http, mock_url)
    assert stored["total"] == 1
    [item] = stored["events"]
    assert item["id"] == event_id(1)
    assert item["event"] == event
    assert item["eventTime"] == "2026-11-28T10:00:00.000Z"
    assert item["idempotencyKey"] is None  # sent without one
    assert sorted(item) == ["event", "eventTime", "id", "idempotencyKey", "receivedAt"]


async def test_api_token_header_and_bearer_reach_the_same_tenant(mock_url: str) -> None:
    token = new_token()
    async with ClientSession(headers={"apiToken": token}) as by_header, \
            ClientSession(headers={"Authorization": f"Bearer {token}"}) as by_bearer:
        first = await post(by_header, f"{mock_url}/event", make_event(eventType="A"))
        second = await post(by_bearer, f"{mock_url}/event", make_event(eventType="B"))
        assert first == (202, {"id": event_id(1), "duplicate": False})
        assert second == (202, {"id": event_id(2), "duplicate": False})
        for session in (by_header, by_bearer):
            stored = await listed(session, mock_url)
            assert stored["total"] == 2
            assert [e["event"]["eventType"] for e in stored["events"]] == ["A", "B"]


async def test_a_gzip_compressed_body_is_accepted(mock_url: str, http: ClientSession) -> None:
    event = make_event(labels={"note": "compressed " * 50})
    body = gzip.compress(json.dumps(event).encode())
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    async with http.post(f"{mock_url}/event", data=body, headers=headers) as response:
        assert response.status == 202
        assert await response.json() == {"id": event_id(1), "duplicate": False}
    stored = await listed(http, mock_url)
    assert [e["event"] for e in stored["events"]] == [event]


async def test_pointillists_own_example_without_content_type_is_accepted(
    mock_url: str, http: ClientSession
) -> None:
    # The public client code posts data=json.dumps(payload) with only the apiToken header.
    payload = {
        "eventSource": "POS",
        "eventType": "Sale",
        "eventTime": "2015-9-24 7:6:23-0700",
        "actors": {
            "Customer": {"Loyalty_Card_Id": "1234567890", "Email_Id": "Myemail1@email.com",
                         "Consumer_Id": "4893622"},
            "Product": {"Product_Id": "7680850106"},
            "Coupon": {"Coupon_Id": "C0001"},
            "Store": {"Store_Id": "1"},
            "Transaction": {"Sales_Id": "1"},
        },
        "labels": {"Sale_Type": "Store", "Payment_Method": "Cash",
                   "Product_Category": "Office Supplies"},
        "numbers": {"Sale_Amount": "80.77"},
        "location": {"Address_Street": "Street Address11", "countryCode": "US",
                     "zipCode": "90069"},
    }
    async with http.post(f"{mock_url}/event", data=json.dumps(payload).encode(),
                         skip_auto_headers=["Content-Type"]) as response:
        assert "Content-Type" not in response.request_info.headers
        assert response.status == 202
        assert await response.json() == {"id": event_id(1), "duplicate": False}
    [item] = (await listed(http, mock_url))["events"]
    assert item["event"] == payload
    assert item["eventTime"] == "2015-09-24T14:06:23.000Z"  # -07:00 → UTC
    async with http.get(f"{mock_url}/_mock/actors") as response:
        actors = (await response.json())["actors"]
    # One actor per actor type; the Customer's three identifiers are one actor.
    assert sorted(actors, key=lambda actor: actor["actorType"]) == [
        {"actorType": "Coupon", "userId": None, "identifiers": {"Coupon_Id": ["C0001"]},
         "eventCount": 1},
        {"actorType": "Customer", "userId": None, "eventCount": 1,
         "identifiers": {"Consumer_Id": ["4893622"], "Email_Id": ["Myemail1@email.com"],
                         "Loyalty_Card_Id": ["1234567890"]}},
        {"actorType": "Product", "userId": None, "identifiers": {"Product_Id": ["7680850106"]},
         "eventCount": 1},
        {"actorType": "Store", "userId": None, "identifiers": {"Store_Id": ["1"]},
         "eventCount": 1},
        {"actorType": "Transaction", "userId": None, "identifiers": {"Sales_Id": ["1"]},
         "eventCount": 1},
    ]


async def test_loose_and_nanosecond_event_times_are_accepted_and_normalized(
    mock_url: str, http: ClientSession
) -> None:
    times = {
        "2015-9-24 7:6:23-0700": "2015-09-24T14:06:23.000Z",
        "2026-11-28T10:00:00.123456789Z": "2026-11-28T10:00:00.123Z",
        "2026-11-28T10:00:00.999999999+05:30": "2026-11-28T04:30:00.999Z",
        "2026-11-28 10:00Z": "2026-11-28T10:00:00.000Z",
    }
    for sent in times:
        status, _ = await post(http, f"{mock_url}/event", make_event(eventTime=sent))
        assert status == 202, sent
    stored = (await listed(http, mock_url))["events"]
    assert [(e["event"]["eventTime"], e["eventTime"]) for e in stored] == list(times.items())


async def test_an_event_time_with_no_utc_form_is_a_400_not_a_crash(
    mock_url: str, http: ClientSession
) -> None:
    event = make_event(eventTime="0001-01-01T00:00:00+01:00")
    status, answer = await post(http, f"{mock_url}/event", event)
    assert status == 400
    assert answer["error"]["code"] == "invalid_payload"
    assert [v["path"] for v in answer["error"]["details"]["violations"]] == ["$.eventTime"]
    assert (await listed(http, mock_url))["total"] == 0


# -- POST /events ----------------------------------------------------------------------------


async def test_a_batch_is_stored_with_ids_in_order(mock_url: str, http: ClientSession) -> None:
    batch = [make_event(eventType=f"Step {n}") for n in range(5)]
    status, answer = await post(http, f"{mock_url}/events", batch)
    ids = [event_id(n) for n in range(1, 6)]
    assert (status, answer) == (202, {"ids": ids, "count": 5, "duplicate": False})
    stored = await listed(http, mock_url)
    assert stored["total"] == 5
    assert [(e["id"], e["event"]) for e in stored["events"]] == list(zip(ids, batch, strict=True))


async def test_one_invalid_item_rejects_the_whole_batch_naming_every_bad_index(
    mock_url: str, http: ClientSession
) -> None:
    missing_type = make_event()
    del missing_type["eventType"]
    batch = [
        make_event(),
        missing_type,
        make_event(),
        make_event(numbers={"revenue": "lots"}),
        make_event(eventTime="yesterday"),
    ]
    status, answer = await post(http, f"{mock_url}/events", batch)
    assert status == 400
    violations = [
        {"path": "$[1].eventType", "message": '"eventType" is a required property'},
        {"path": "$[3].numbers.revenue",
         "message": "\"lots\" is not a finite number; send a number such as 42.5"},
        {"path": "$[4].eventTime",
         "message": "\"yesterday\" is not a date-time with a zone; "
                    "send ISO-8601 such as 2026-11-28T10:00:00.000Z"},
    ]
    assert answer == {"error": {
        "code": "invalid_payload",
        "message": "3 of 5 events are invalid; nothing was stored: "
                   "$[1].eventType: \"eventType\" is a required property (and 2 more)",
        "details": {"violations": violations, "invalidIndexes": [1, 3, 4]},
    }}
    assert (await listed(http, mock_url))["total"] == 0
    assert await stats(http, mock_url) == zero_stats(rejected=1)
    # The valid items were not stored either, so the next id is still the first one.
    status, answer = await post(http, f"{mock_url}/event", make_event())
    assert (status, answer) == (202, {"id": event_id(1), "duplicate": False})


async def test_a_batch_of_1000_is_accepted_and_1001_is_413(
    mock_url: str, http: ClientSession
) -> None:
    batch = [make_event(labels={"n": str(n)}) for n in range(1000)]
    status, answer = await post(http, f"{mock_url}/events", batch)
    assert status == 202
    assert answer["count"] == 1000
    assert answer["ids"] == [event_id(n) for n in range(1, 1001)]
    status, answer = await post(http, f"{mock_url}/events", [*batch, make_event()])
    assert (status, answer) == (413, {"error": {
        "code": "payload_too_large",
        "message": "the batch has 1001 events; the limit is 1000",
        "details": {"limitEvents": 1000},
    }})
    assert (await stats(http, mock_url))["events"] == 1000


# -- Idempotency-Key -------------------------------------------------------------------------


async def test_a_repeated_idempotency_key_answers_200_with_the_original_id(
    mock_url: str, http: ClientSession
) -> None:
    event = make_event()
    first = await post(http, f"{mock_url}/event", event, **{"Idempotency-Key": "order-1"})
    again = await post(http, f"{mock_url}/event", event, **{"Idempotency-Key": "order-1"})
    assert first == (202, {"id": event_id(1), "duplicate": False})
    assert again == (200, {"id": event_id(1), "duplicate": True})
    batch = [make_event(eventType="X"), make_event(eventType="Y")]
    first = await post(http, f"{mock_url}/events", batch, **{"Idempotency-Key": "batch-1"})
    again = await post(http, f"{mock_url}/events", batch, **{"Idempotency-Key": "batch-1"})
    ids = [event_id(2), event_id(3)]
    assert first == (202, {"ids": ids, "count": 2, "duplicate": False})
    assert again == (200, {"ids": ids, "count": 2, "duplicate": True})
    stored = await listed(http, mock_url)
    assert [e["id"] for e in stored["events"]] == [event_id(1), *ids]
    assert await stats(http, mock_url) == zero_stats(
        events=3, eventTypes={"Order Completed": 1, "X": 1, "Y": 1}, actors=1, stitchedActors=1,
        idempotentReplays=2,
    )


async def test_the_same_key_with_a_different_body_is_409(
    mock_url: str, http: ClientSession
) -> None:
    await post(http, f"{mock_url}/event", make_event(), **{"Idempotency-Key": "k"})
    status, answer = await post(http, f"{mock_url}/event", make_event(eventType="Other"),
                                **{"Idempotency-Key": "k"})
    assert (status, answer) == (409, {"error": {
        "code": "idempotency_key_reused",
        "message": "this Idempotency-Key was used before with a different body; "
                   "use a new key for a new event",
        "details": {"idempotencyKey": "k", "originalIds": [event_id(1)]},
    }})
    assert [e["event"]["eventType"] for e in (await listed(http, mock_url))["events"]] == [
        "Order Completed"
    ]


async def test_idempotency_keys_are_per_tenant(mock_url: str) -> None:
    event = make_event()
    async with ClientSession(headers={"apiToken": new_token()}) as first, \
            ClientSession(headers={"apiToken": new_token()}) as second:
        one = await post(first, f"{mock_url}/event", event, **{"Idempotency-Key": "shared"})
        two = await post(second, f"{mock_url}/event", event, **{"Idempotency-Key": "shared"})
        # Ids count per tenant, so both are the first event of their tenant.
        assert one == (202, {"id": event_id(1), "duplicate": False})
        assert two == (202, {"id": event_id(1), "duplicate": False})
        for session in (first, second):
            assert (await listed(session, mock_url))["events"][0]["event"] == event
            assert await stats(session, mock_url) == zero_stats(
                events=1, eventTypes={"Order Completed": 1}, actors=1, stitchedActors=1)


async def test_a_concurrent_retry_is_not_acknowledged_before_the_original_is_durable(
    start_mock: StartMock, http: ClientSession, tmp_path: Path
) -> None:
    # A wide commit window keeps the original in the journal's queue while the retry arrives.
    async with start_mock(db=str(tmp_path / "journal.log"), commit_window_seconds=0.3) as url:
        event = make_event()
        sends = [asyncio.create_task(post(http, f"{url}/event", event,
                                          **{"Idempotency-Key": "retry"})) for _ in range(2)]
        done, pending = await asyncio.wait(sends, return_when=asyncio.FIRST_COMPLETED)
        # Whichever answered first, a 2xx means the event is stored.
        stored = await listed(http, url)
        assert [e["id"] for e in stored["events"]] == [event_id(1)]
        answers = sorted([t.result() for t in done] + [await t for t in pending],
                         key=lambda answer: answer[0])
        assert answers == [(200, {"id": event_id(1), "duplicate": True}),
                           (202, {"id": event_id(1), "duplicate": False})]


# -- tokens and tenants ----------------------------------------------------------------------

TENANT_ROUTES = [
    ("GET", "/_mock/events"),
    ("GET", "/_mock/events?min_count=0"),
    ("GET", "/_mock/actor?userId=u_1"),
    ("GET", "/_mock/actors"),
    ("GET", "/_mock/conflicts"),
    ("GET", "/_mock/rejected"),
    ("GET", "/_mock/stats"),
    ("POST", "/_mock/reset"),
]


async def test_strict_mode_refuses_unknown_tokens_everywhere(start_mock: StartMock) -> None:
    async with start_mock(tokens=frozenset({"good"})) as url, ClientSession() as http:
        unauthorized = {"code": "unauthorized", "details": {},
                        "message": "unknown token: this mock only accepts the tokens it was "
                                   "started with"}
        missing = {"code": "unauthorized", "details": {},
                   "message": "missing token: send it in the apiToken header "
                              "(or Authorization: Bearer <token>)"}
        for headers, expected in (({"apiToken": "bad"}, unauthorized),
                                  ({"Authorization": "Bearer bad"}, unauthorized), ({}, missing)):
            for path in ("/event", "/events"):
                body: Any = make_event() if path == "/event" else [make_event()]
                assert await post(http, f"{url}{path}", body, **headers) == (
                    401, {"error": expected})
            for method, path in TENANT_ROUTES:
                async with http.request(method, f"{url}{path}", headers=headers) as response:
                    assert (response.status, await response.json()) == (
                        401, {"error": expected}), (method, path, headers)
        for method, path in TENANT_ROUTES:  # the EventSource-friendly ?token= is checked too
            joiner = "&" if "?" in path else "?"
            async with http.request(method, f"{url}{path}{joiner}token=bad") as response:
                assert response.status == 401, (method, path)

        status, answer = await post(http, f"{url}/event", make_event(), apiToken="good")
        assert (status, answer) == (202, {"id": event_id(1), "duplicate": False})
        status, answer = await post(http, f"{url}/events", [make_event()],
                                    Authorization="Bearer good")
        assert (status, answer) == (202, {"ids": [event_id(2)], "count": 1, "duplicate": False})
        async with http.get(f"{url}/_mock/events", headers={"apiToken": "good"}) as response:
            assert response.status == 200
            assert [e["id"] for e in (await response.json())["events"]] == [
                event_id(1), event_id(2)]
        async with http.get(f"{url}/_mock/stats?token=good") as response:
            assert response.status == 200
            assert (await response.json())["events"] == 2


async def test_tenants_never_see_each_other(mock_url: str) -> None:
    async with ClientSession(headers={"apiToken": new_token()}) as alice, \
            ClientSession(headers={"apiToken": new_token()}) as bob:
        await post(alice, f"{mock_url}/event", make_event(
            eventType="Signed Up", actors={"Customer": {"userId": "shared", "anonymousId": "a"}}))
        await post(alice, f"{mock_url}/event", {"eventType": "broken"})
        await post(bob, f"{mock_url}/event", make_event(
            eventType="Logged In", actors={"Customer": {"userId": "shared"}}))

        alice_events = (await listed(alice, mock_url))["events"]
        bob_events = (await listed(bob, mock_url))["events"]
        assert [(e["id"], e["event"]["eventType"]) for e in alice_events] == [
            (event_id(1), "Signed Up")]
        assert [(e["id"], e["event"]["eventType"]) for e in bob_events] == [
            (event_id(1), "Logged In")]
        async with bob.get(f"{mock_url}/_mock/actor", params={"userId": "shared"}) as response:
            bob_actor = await response.json()
        assert bob_actor["identifiers"] == {"userId": ["shared"]}
        assert [e["id"] for e in bob_actor["events"]] == [event_id(1)]
        async with bob.get(f"{mock_url}/_mock/actor", params={"anonymousId": "a"}) as response:
            assert response.status == 404
        async with bob.get(f"{mock_url}/_mock/rejected") as response:
            assert await response.json() == {"rejected": []}
        assert await stats(bob, mock_url) == zero_stats(
            events=1, eventTypes={"Logged In": 1}, actors=1)
        assert await stats(alice, mock_url) == zero_stats(
            events=1, eventTypes={"Signed Up": 1}, actors=1, stitchedActors=1, rejected=1)


async def test_reset_clears_only_the_callers_tenant(mock_url: str) -> None:
    async with ClientSession(headers={"apiToken": new_token()}) as alice, \
            ClientSession(headers={"apiToken": new_token()}) as bob:
        await post(alice, f"{mock_url}/event", make_event(), **{"Idempotency-Key": "k"})
        await post(alice, f"{mock_url}/event", {"eventType": "broken"})
        await post(bob, f"{mock_url}/event", make_event(), **{"Idempotency-Key": "k"})
        async with alice.post(f"{mock_url}/_mock/reset") as response:
            assert (response.status, await response.json()) == (200, {"reset": True})

        assert await listed(alice, mock_url) == {"total": 0, "events": []}
        assert await stats(alice, mock_url) == zero_stats()
        async with alice.get(f"{mock_url}/_mock/actor", params={"userId": "u_1"}) as response:
            assert response.status == 404
        async with alice.get(f"{mock_url}/_mock/rejected") as response:
            assert await response.json() == {"rejected": []}
        assert [e["id"] for e in (await listed(bob, mock_url))["events"]] == [event_id(1)]
        assert await stats(bob, mock_url) == zero_stats(
            events=1, eventTypes={"Order Completed": 1}, actors=1, stitchedActors=1)
        # The reset forgot alice's Idempotency-Key too: the same request stores a new event,
        # under a new id (ids are never reused within a tenant, even across a reset).
        status, answer = await post(alice, f"{mock_url}/event", make_event(),
                                    **{"Idempotency-Key": "k"})
        assert (status, answer) == (202, {"id": event_id(2), "duplicate": False})
