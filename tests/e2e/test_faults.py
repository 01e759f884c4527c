"""Fault rules over HTTP: POST/GET/DELETE /_mock/faults, and each kind as a client meets it on
POST /event and POST /events. The inspection API never misbehaves, and other tenants never
notice another's faults."""

from __future__ import annotations

import asyncio
import errno
import json
import random
import time
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import ClientSession

from tests.conftest import make_event

Json = dict[str, Any]

ISSUE_RULES = [
    {"kind": "status", "status": 503, "times": 5},
    {"kind": "status", "status": 429, "retryAfter": 2, "probability": 0.3, "seed": 7},
    {"kind": "latency", "ms": 200, "durationSeconds": 10},
    {"kind": "reset", "times": 1},
    {"kind": "truncate", "times": 1},
    {"kind": "delayVisibility", "ms": 1500, "times": 3},
]


def event_id(seq: int) -> str:
    return f"evt_{seq:010d}"


def listed(rule: Json, rule_id: str, fired: int = 0, considered: int = 0,
           active: bool = True) -> Json:
    return {"id": rule_id, **rule, "fired": fired, "considered": considered, "active": active}


async def add_fault(http: ClientSession, url: str, **rule: Any) -> str:
    async with http.post(f"{url}/_mock/faults", json=rule) as response:
        body = await response.json()
        assert response.status == 201, body
        return str(body["id"])


async def faults(http: ClientSession, url: str) -> list[Json]:
    async with http.get(f"{url}/_mock/faults") as response:
        assert response.status == 200
        rules: list[Json] = (await response.json())["rules"]
        return rules


async def send(http: ClientSession, url: str, body: Any, path: str = "/event",
               key: str | None = None) -> tuple[int, Json, Any]:
    """(status, JSON body, headers) of one ingest request."""
    headers = {"Idempotency-Key": key} if key else {}
    async with http.post(f"{url}{path}", json=body, headers=headers) as response:
        return response.status, await response.json(), response.headers


async def get(http: ClientSession, url: str, path: str, **params: Any) -> Json:
    async with http.get(f"{url}{path}", params=params) as response:
        assert response.status == 200
        answer: Json = await response.json()
        return answer


async def stored_ids(http: ClientSession, url: str) -> list[str]:
    return [e["id"] for e in (await get(http, url, "/_mock/events", limit=10_000))["events"]]


def injected(rule_id: str, status: int) -> Json:
    return {"error": {"code": "injected_fault",
                      "message": f"fault rule {rule_id} answered {status}; nothing was stored "
                                 "(see GET /_mock/faults)",
                      "details": {"ruleId": rule_id, "kind": "status"}}}


# -- the rules API ------------------------------------------------------------------------------


async def test_the_issues_rules_are_added_listed_and_cleared(
    mock_url: str, http: ClientSession
) -> None:
    ids = [await add_fault(http, mock_url, **rule) for rule in ISSUE_RULES]
    assert ids == [f"flt_{n}" for n in range(1, 7)]
    assert await faults(http, mock_url) == [
        listed(rule, rule_id) for rule, rule_id in zip(ISSUE_RULES, ids, strict=True)]
    async with http.delete(f"{mock_url}/_mock/faults") as response:
        assert (response.status, await response.json()) == (200, {"cleared": 6})
    assert await faults(http, mock_url) == []
    assert await add_fault(http, mock_url, kind="reset") == "flt_7"  # ids are never reused


@pytest.mark.parametrize(("rule", "paths"), [
    ({"kind": "meltdown"}, ["$.kind"]),
    ({"kind": "status", "status": 404}, ["$.status"]),
    ({"kind": "status", "status": 503, "times": -5}, ["$.times"]),
    ({"kind": "status", "status": 429, "probability": 1.5}, ["$.probability"]),
    ({"kind": "reset", "probability": -0.5, "times": 0, "ms": 3}, ["$.ms", "$.times",
                                                                  "$.probability"]),
])
async def test_an_invalid_rule_is_a_400_that_says_what_to_fix(
    mock_url: str, http: ClientSession, rule: Json, paths: list[str]
) -> None:
    async with http.post(f"{mock_url}/_mock/faults", json=rule) as response:
        assert response.status == 400
        error = (await response.json())["error"]
    assert error["code"] == "invalid_fault_rule"
    assert [v["path"] for v in error["details"]["violations"]] == paths
    assert error["message"].startswith(f"the fault rule is invalid: {paths[0]}: ")
    assert await faults(http, mock_url) == []


async def test_a_rule_body_that_is_not_json_or_has_no_token_is_refused(
    mock_url: str, http: ClientSession
) -> None:
    for content_type, status, code in [("application/json", 400, "invalid_json"),
                                       ("text/plain", 415, "unsupported_media_type")]:
        async with http.post(f"{mock_url}/_mock/faults", data=b"{kind: reset}",
                             headers={"Content-Type": content_type}) as response:
            assert (response.status, (await response.json())["error"]["code"]) == (status, code)
    async with ClientSession() as anonymous:
        for method in ("GET", "POST", "DELETE"):
            async with anonymous.request(method, f"{mock_url}/_mock/faults",
                                         json={"kind": "reset"}) as response:
                assert (response.status, (await response.json())["error"]["code"]) == (
                    401, "unauthorized")
    assert await faults(http, mock_url) == []


async def test_a_reset_clears_the_tenants_rules_too(mock_url: str, http: ClientSession) -> None:
    await add_fault(http, mock_url, kind="status", status=503)
    async with http.post(f"{mock_url}/_mock/reset") as response:
        assert response.status == 200
    assert await faults(http, mock_url) == []
    assert (await send(http, mock_url, make_event()))[:2] == (
        202, {"id": event_id(1), "duplicate": False})


# -- each kind on the ingest routes -------------------------------------------------------------


async def test_a_status_fault_answers_before_storing_then_runs_out(
    mock_url: str, http: ClientSession
) -> None:
    rule = await add_fault(http, mock_url, kind="status", status=503, times=5)
    for path, body in [("/event", make_event())] * 3 + [("/events", [make_event()] * 2)] * 2:
        status, answer, headers = await send(http, mock_url, body, path, key="k-1")
        assert (status, answer) == (503, injected(rule, 503))
        assert (headers["X-Mock-Fault"], "Retry-After" in headers) == (rule, False)
    assert await stored_ids(http, mock_url) == []
    status, answer, _ = await send(http, mock_url, make_event(), key="k-1")
    assert (status, answer) == (202, {"id": event_id(1), "duplicate": False})  # a first store
    assert await faults(http, mock_url) == [
        listed({"kind": "status", "status": 503, "times": 5}, rule, 5, 5, False)]
    # An injected fault is not a rejection of the client's request.
    assert await get(http, mock_url, "/_mock/rejected") == {"rejected": []}


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
async def test_each_status_with_a_retry_after_in_seconds(
    mock_url: str, http: ClientSession, status: int
) -> None:
    rule = await add_fault(http, mock_url, kind="status", status=status, retryAfter=2, times=1)
    answered, answer, headers = await send(http, mock_url, make_event())
    assert (answered, answer, headers["Retry-After"]) == (status, injected(rule, status), "2")


async def test_a_retry_after_as_an_http_date(mock_url: str, http: ClientSession) -> None:
    await add_fault(http, mock_url, kind="status", status=429, retryAfter=2,
                    retryAfterFormat="date", times=1)
    before = time.time()
    status, _, headers = await send(http, mock_url, make_event())
    after = time.time()
    assert status == 429
    when = parsedate_to_datetime(headers["Retry-After"]).timestamp()
    assert headers["Retry-After"].endswith(" GMT")
    # Whole seconds, never sooner than asked: at least 2 s ahead, less than 3 s.
    assert before + 2 <= when < after + 3


async def test_a_probability_replays_the_seeded_sequence_over_http(
    mock_url: str, http: ClientSession
) -> None:
    rule = await add_fault(http, mock_url, kind="status", status=429, retryAfter=2,
                           probability=0.3, seed=7)
    draws = random.Random(7)
    expected = [429 if draws.random() < 0.3 else 202 for _ in range(40)]
    got = [(await send(http, mock_url, make_event()))[0] for _ in range(40)]
    assert got == expected
    assert len(await stored_ids(http, mock_url)) == expected.count(202)
    assert (await faults(http, mock_url))[0] == listed(
        {"kind": "status", "status": 429, "retryAfter": 2, "probability": 0.3, "seed": 7}, rule,
        expected.count(429), 40)


async def test_a_reset_fault_drops_the_connection_before_any_answer_and_stores_nothing(
    mock_url: str, http: ClientSession
) -> None:
    rule = await add_fault(http, mock_url, kind="reset", times=1)
    with pytest.raises(aiohttp.ClientOSError) as dropped:
        await send(http, mock_url, make_event(), key="k-1")
    assert dropped.value.errno == errno.ECONNRESET
    assert await stored_ids(http, mock_url) == []
    status, answer, _ = await send(http, mock_url, make_event(), key="k-1")
    assert (status, answer) == (202, {"id": event_id(1), "duplicate": False})
    assert (await faults(http, mock_url))[0] == listed({"kind": "reset", "times": 1}, rule, 1, 1,
                                                       False)


@pytest.mark.parametrize(("path", "body", "answer"), [
    ("/event", make_event(), {"id": event_id(1), "duplicate": True}),
    ("/events", [make_event(), make_event(eventType="Second")],
     {"ids": [event_id(1), event_id(2)], "count": 2, "duplicate": True}),
])
async def test_a_truncated_answer_was_stored_and_the_retry_is_a_replay(
    mock_url: str, http: ClientSession, path: str, body: Any, answer: Json
) -> None:
    rule = await add_fault(http, mock_url, kind="truncate", times=1)
    with pytest.raises(aiohttp.ClientPayloadError, match="Not enough data to satisfy content "
                                                         "length header"):
        await send(http, mock_url, body, path, key="k-1")
    ids = [event_id(n + 1) for n in range(len(body) if path == "/events" else 1)]
    assert await stored_ids(http, mock_url) == ids
    status, replayed, _ = await send(http, mock_url, body, path, key="k-1")
    assert (status, replayed) == (200, answer)
    stats = await get(http, mock_url, "/_mock/stats")
    assert (stats["events"], stats["idempotentReplays"], stats["duplicateIdempotencyKeys"]) == (
        len(ids), 1, 0)
    assert (await faults(http, mock_url))[0] == listed({"kind": "truncate", "times": 1}, rule, 1,
                                                       1, False)


async def test_the_truncated_answer_declares_its_full_length_and_carries_half(
    mock_url: str, http: ClientSession
) -> None:
    rule = await add_fault(http, mock_url, kind="truncate", times=1)
    whole = b'{"id": "evt_0000000001", "duplicate": false}'
    reader, writer = await asyncio.open_connection(*mock_url.removeprefix("http://").split(":"))
    body = json.dumps(make_event()).encode()
    token = http.headers["apiToken"]
    writer.write(b"POST /event HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 + f"apiToken: {token}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
    received = await asyncio.wait_for(reader.read(), 10)  # until the mock closes
    writer.close()
    head, _, rest = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 202 ")
    assert f"Content-Length: {len(whole)}".encode() in head.split(b"\r\n")
    assert f"X-Mock-Fault: {rule}".encode() in head.split(b"\r\n")
    assert rest == whole[: len(whole) // 2]


async def test_an_invalid_request_is_answered_as_usual_and_leaves_truncate_waiting(
    mock_url: str, http: ClientSession
) -> None:
    rule = await add_fault(http, mock_url, kind="truncate", times=1)
    status, answer, _ = await send(http, mock_url, make_event(actors={}))
    assert (status, answer["error"]["code"]) == (400, "invalid_payload")
    assert (await faults(http, mock_url))[0] == listed({"kind": "truncate", "times": 1}, rule)


async def test_delayed_visibility_acknowledges_at_once_and_shows_the_event_later(
    mock_url: str, http: ClientSession
) -> None:
    await add_fault(http, mock_url, kind="delayVisibility", ms=300, times=1)
    started = time.monotonic()
    assert (await send(http, mock_url, make_event(eventType="Hidden"), key="k-1"))[:2] == (
        202, {"id": event_id(1), "duplicate": False})
    assert (await send(http, mock_url, make_event(eventType="Shown")))[:2] == (
        202, {"id": event_id(2), "duplicate": False})
    # Hidden from every view, but its key is taken: the retry is a replay.
    assert (await send(http, mock_url, make_event(eventType="Hidden"), key="k-1"))[:2] == (
        200, {"id": event_id(1), "duplicate": True})
    assert await stored_ids(http, mock_url) == [event_id(2)]
    stats = await get(http, mock_url, "/_mock/stats")
    assert (stats["events"], stats["eventTypes"]) == (1, {"Shown": 1})
    waited = await get(http, mock_url, "/_mock/events", min_count=2, timeout=10)
    elapsed = time.monotonic() - started
    assert waited["minCountReached"] is True
    assert [e["id"] for e in waited["events"]] == [event_id(1), event_id(2)]  # in id order
    assert 0.3 <= elapsed < 5
    stats = await get(http, mock_url, "/_mock/stats")
    assert (stats["events"], stats["idempotentReplays"], stats["duplicateIdempotencyKeys"]) == (
        2, 1, 0)


async def test_a_reset_forgets_an_event_still_hidden(mock_url: str, http: ClientSession) -> None:
    await add_fault(http, mock_url, kind="delayVisibility", ms=200, times=1)
    assert (await send(http, mock_url, make_event(eventType="Forgotten")))[0] == 202
    async with http.post(f"{mock_url}/_mock/reset") as response:
        assert response.status == 200
    await add_fault(http, mock_url, kind="delayVisibility", ms=250, times=1)
    assert (await send(http, mock_url, make_event(eventType="Later")))[0] == 202
    # Shown after the forgotten one's moment has passed: only the later one appears.
    waited = await get(http, mock_url, "/_mock/events", min_count=1, timeout=10)
    assert [e["event"]["eventType"] for e in waited["events"]] == ["Later"]
    assert (await get(http, mock_url, "/_mock/stats"))["events"] == 1


async def test_latency_delays_the_answer_and_the_request_is_stored(
    mock_url: str, http: ClientSession
) -> None:
    rule = await add_fault(http, mock_url, kind="latency", ms=150, jitterMs=50, times=2)
    for n in (1, 2):
        started = time.monotonic()
        assert (await send(http, mock_url, make_event()))[:2] == (
            202, {"id": event_id(n), "duplicate": False})
        assert 0.15 <= time.monotonic() - started < 2
    started = time.monotonic()
    assert (await send(http, mock_url, make_event()))[0] == 202
    assert time.monotonic() - started < 0.15
    assert (await faults(http, mock_url))[0] == listed(
        {"kind": "latency", "ms": 150, "jitterMs": 50, "times": 2}, rule, 2, 2, False)


# -- what faults never touch --------------------------------------------------------------------


async def test_the_inspection_api_and_other_tenants_never_misbehave(
    mock_url: str, http: ClientSession
) -> None:
    assert (await send(http, mock_url, make_event()))[0] == 202
    for rule in ({"kind": "latency", "ms": 2000}, {"kind": "reset"},
                 {"kind": "status", "status": 503}, {"kind": "truncate"}):
        await add_fault(http, mock_url, **rule)
    started = time.monotonic()
    assert await stored_ids(http, mock_url) == [event_id(1)]
    for path in ("/_mock/stats", "/_mock/actors", "/_mock/conflicts", "/_mock/rejected",
                 "/_mock/faults", "/_mock/health"):
        await get(http, mock_url, path)
    assert (await get(http, mock_url, "/_mock/actor", userId="u_1"))["eventCount"] == 1
    assert time.monotonic() - started < 1.5  # none of it waited for the 2 s latency
    async with ClientSession(headers={"apiToken": "another-tenant"}) as other:
        started = time.monotonic()
        assert (await send(other, mock_url, make_event()))[:2] == (
            202, {"id": event_id(1), "duplicate": False})
        assert time.monotonic() - started < 1.5
    assert [(r["kind"], r["fired"]) for r in await faults(http, mock_url)] == [
        ("latency", 0), ("reset", 0), ("status", 0), ("truncate", 0)]
