"""The connector's delivery client against real servers on 127.0.0.1.

Two kinds of server: the live mock (conftest `mock_url`), and `Flaky`, a small aiohttp server
(scripted_server.py, fixture `flaky` in conftest.py) that follows a per-event script (answer 503,
429 with Retry-After, close the connection, hang, answer 400 ...) and otherwise forwards the
request to the live mock, so what finally got stored can be read back from the mock. Backoff never
really waits: the client gets a recording `sleep` and a seeded `random.Random`.
"""

from __future__ import annotations

import asyncio
import random
import socket
from email.utils import formatdate
from typing import Any

import pytest
from aiohttp import ClientSession

from connector.client import (
    Delivery,
    parse_retry_after,
)
from tests.e2e.scripted_server import (
    DROP,
    HANG,
    NOW,
    SEED,
    STORE_THEN_DROP,
    Flaky,
    Reply,
    Sleeps,
    item,
    make_client,
    stored,
)


def jitter(*ceilings: float) -> list[float]:
    """The full-jitter delays a client seeded with SEED draws for these ceilings."""
    rng = random.Random(SEED)
    return [rng.uniform(0.0, ceiling) for ceiling in ceilings]


async def stats(http: ClientSession, mock_url: str) -> dict[str, Any]:
    async with http.get(f"{mock_url}/_mock/stats") as response:
        assert response.status == 200
        result: dict[str, Any] = await response.json()
        return result


def per_actor(pairs: list[tuple[str, str]]) -> dict[str, list[int]]:
    orders: dict[str, list[int]] = {}
    for actor, n in pairs:
        orders.setdefault(actor, []).append(int(n))
    return orders


def traffic(count: int, actors: int, run: int = 1) -> list[Delivery]:
    """`count` events over `actors` actors, `run` consecutive events per actor at a time."""
    return [item(n, f"u_{n // run % actors}") for n in range(count)]


def input_order(items: list[Delivery]) -> dict[str, list[int]]:
    return per_actor([(d.ordering_key, d.event["labels"]["n"]) for d in items])


# -- against the live mock --------------------------------------------------------------------


async def test_200_events_are_stored_once_each_in_per_actor_order(
    mock_url: str, token: str, http: ClientSession, session: ClientSession
) -> None:
    items = traffic(200, 7)
    client = make_client(session, mock_url, token, concurrency=8)

    result = await client.deliver(items)
    result.skip("unsupported_message_type", 2)

    assert result.as_dict() == {
        "sent": 200, "duplicates": 0, "skipped": 2, "failed": 0, "attempts": 200,
        "retries": 0, "skipReasons": {"unsupported_message_type": 2}, "failureReasons": {},
    }
    pairs = await stored(http, mock_url)
    assert len(pairs) == 200
    assert sorted(int(n) for _, n in pairs) == list(range(200))
    assert per_actor(pairs) == {f"u_{a}": list(range(a, 200, 7)) for a in range(7)}
    assert (await stats(http, mock_url))["actors"] == 7
    assert not session.closed


async def test_the_idempotency_key_stores_an_item_once_however_often_it_is_delivered(
    mock_url: str, token: str, http: ClientSession, session: ClientSession
) -> None:
    client = make_client(session, mock_url, token)
    keyed = item(1, "u_1")

    first = await client.deliver([keyed, keyed])
    second = await client.deliver([keyed])

    assert (first.sent, first.duplicates, first.failed) == (2, 1, 0)
    assert (second.sent, second.duplicates, second.failed) == (1, 1, 0)
    counts = await stats(http, mock_url)
    assert (counts["events"], counts["idempotentReplays"]) == (1, 2)
    # Without a key nothing tells the mock the second one is a repeat.
    keyless = item(2, "u_1", key=None)
    third = await client.deliver([keyless, keyless])
    assert (third.sent, third.duplicates) == (2, 0)
    assert await stored(http, mock_url) == [("u_1", "1"), ("u_1", "2"), ("u_1", "2")]


async def test_batch_opt_in_stores_the_same_events_in_fewer_requests(
    mock_url: str, token: str, http: ClientSession, session: ClientSession
) -> None:
    items = traffic(200, 7)
    client = make_client(session, mock_url, token, batch=True, batch_size=50)

    first = await client.deliver(items)
    again = await client.deliver(items)  # same chunks, same derived batch keys: replays

    assert (first.sent, first.duplicates, first.attempts, first.failed) == (200, 0, 4, 0)
    assert (again.sent, again.duplicates, again.attempts, again.failed) == (200, 200, 4, 0)
    pairs = await stored(http, mock_url)
    assert len(pairs) == 200
    assert per_actor(pairs) == {f"u_{a}": list(range(a, 200, 7)) for a in range(7)}


async def test_a_rejected_batch_is_resent_event_by_event_so_only_the_bad_one_fails(
    mock_url: str, token: str, http: ClientSession, session: ClientSession
) -> None:
    items = traffic(10, 3)
    items[4] = item(4, "u_1", eventTime="yesterday")
    client = make_client(session, mock_url, token, batch=True, batch_size=10)

    result = await client.deliver(items)

    assert (result.sent, result.failed, result.attempts, result.retries) == (9, 1, 11, 0)
    assert result.failure_reasons == {"invalid_payload": 1}
    failure = result.failures[0]
    assert failure.delivery == items[4]
    assert (failure.error.status, failure.attempts) == (400, 1)
    assert failure.error.message.startswith("the event is invalid: $.eventTime")
    assert per_actor(await stored(http, mock_url)) == {
        "u_0": [0, 3, 6, 9], "u_1": [1, 7], "u_2": [2, 5, 8]}


async def test_an_unknown_token_fails_every_event_without_retrying(
    start_mock: Any, session: ClientSession
) -> None:
    async with start_mock(tokens=frozenset({"the-good-token"})) as url:
        sleeps = Sleeps()
        client = make_client(session, url, "a-bad-token", sleeps)
        result = await client.deliver(traffic(3, 2))

    assert (result.sent, result.failed, result.attempts) == (0, 3, 3)
    assert result.failure_reasons == {"unauthorized": 3}
    assert {f.error.status for f in result.failures} == {401}
    assert sleeps.calls == []


# -- against a misbehaving server -------------------------------------------------------------


async def test_requests_carry_the_token_json_type_and_idempotency_key(
    flaky: Flaky, token: str, session: ClientSession
) -> None:
    long_key = "k" * 300  # over the mock's 255-character limit: sent as its digest
    items = [item(0, "u_0"), item(1, "u_0", key=None), item(2, "u_0", key=long_key)]

    result = await make_client(session, flaky.url, token).deliver(items)

    assert (result.sent, result.failed) == (3, 0)
    assert [h["apiToken"] for h in flaky.headers] == [token] * 3
    assert [h["Content-Type"] for h in flaky.headers] == ["application/json"] * 3
    assert [h.get("Idempotency-Key") for h in flaky.headers] == [
        "m-0", None, "sha256-17b16d8ef494060fefa36a6a41567b8c32d213a17e02b7eeae86158cc4495461"]


async def test_503_twice_then_stored_after_two_jittered_backoffs(
    flaky: Flaky, token: str, http: ClientSession, mock_url: str, session: ClientSession
) -> None:
    unavailable = Reply(503, '{"error": {"code": "store_unavailable", "message": "busy"}}')
    flaky.scripts["0"] = [unavailable, unavailable]
    sleeps = Sleeps()

    result = await make_client(session, flaky.url, token, sleeps).deliver([item(0, "u_0")])

    assert (result.sent, result.failed, result.attempts, result.retries) == (1, 0, 3, 2)
    assert flaky.attempts == {"0": 3}
    assert sleeps.calls == jitter(0.5, 1.0)
    assert await stored(http, mock_url) == [("u_0", "0")]


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [
        ("2", [2.0]),
        (formatdate(NOW + 5, usegmt=True), [5.0]),  # an HTTP date, against the injected clock
        (formatdate(NOW - 30, usegmt=True), [0.0]),  # a date in the past: retry now
        ("3600", [60.0]),  # capped by retry_after_max
        ("soon", jitter(0.5)),  # unreadable: ordinary backoff
    ],
    ids=["seconds", "http-date", "past-date", "capped", "unreadable"],
)
async def test_429_waits_as_long_as_retry_after_says(
    flaky: Flaky, token: str, session: ClientSession, retry_after: str, expected: list[float]
) -> None:
    flaky.scripts["0"] = [Reply(429, "slow down", {"Retry-After": retry_after})]
    sleeps = Sleeps()

    result = await make_client(session, flaky.url, token, sleeps).deliver([item(0, "u_0")])

    assert (result.sent, result.attempts) == (1, 2)
    assert flaky.attempts == {"0": 2}
    assert sleeps.calls == expected


async def test_a_closed_connection_is_retried(
    flaky: Flaky, token: str, http: ClientSession, mock_url: str, session: ClientSession
) -> None:
    flaky.scripts["0"] = [DROP]
    sleeps = Sleeps()

    result = await make_client(session, flaky.url, token, sleeps).deliver([item(0, "u_0")])

    assert (result.sent, result.failed, result.attempts) == (1, 0, 2)
    assert flaky.attempts == {"0": 2}
    assert sleeps.calls == jitter(0.5)
    assert await stored(http, mock_url) == [("u_0", "0")]


async def test_a_retry_after_a_lost_answer_does_not_store_twice(
    flaky: Flaky, token: str, http: ClientSession, mock_url: str, session: ClientSession
) -> None:
    flaky.scripts["0"] = [STORE_THEN_DROP]  # stored, but the client never hears it

    result = await make_client(session, flaky.url, token).deliver([item(0, "u_0")])

    assert (result.sent, result.duplicates, result.attempts) == (1, 1, 2)
    assert flaky.stored == [("u_0", "0")]  # the second attempt was a replay (200, not 202)
    assert await stored(http, mock_url) == [("u_0", "0")]


async def test_a_timed_out_attempt_is_retried_and_the_last_timeout_is_the_failure(
    flaky: Flaky, token: str, session: ClientSession
) -> None:
    accepted = Reply(202, '{"id": "ev_1", "duplicate": false}')  # answered here, at once
    flaky.scripts["0"] = [HANG, HANG]
    flaky.scripts["1"] = [HANG, accepted]
    sleeps = Sleeps()
    client = make_client(session, flaky.url, token, sleeps, timeout=0.3, max_retries=1)

    result = await client.deliver([item(0, "u_0"), item(1, "u_1")])

    assert (result.sent, result.failed, result.attempts) == (1, 1, 4)
    assert flaky.attempts == {"0": 2, "1": 2}
    assert sorted(sleeps.calls) == sorted(jitter(0.5, 0.5))
    [failure] = result.failures
    assert failure.delivery.ordering_key == "u_0"
    assert (failure.error.code, failure.error.message) == ("timeout", "no answer within 0.3 s")
    assert (failure.error.status, failure.attempts) == (None, 2)


async def test_a_4xx_is_not_retried_and_fails_with_the_server_code_and_message(
    flaky: Flaky, token: str, http: ClientSession, mock_url: str, session: ClientSession
) -> None:
    flaky.scripts["0"] = [Reply(400, '{"error": {"code": "bad_event", "message": "no good"}}')]
    invalid = item(1, "u_0", eventType="")  # forwarded: the live mock rejects it
    sleeps = Sleeps()

    result = await make_client(session, flaky.url, token, sleeps).deliver(
        [item(0, "u_0"), invalid, item(2, "u_0")]
    )

    assert (result.sent, result.failed, result.attempts, result.retries) == (1, 2, 3, 0)
    assert flaky.attempts == {"0": 1, "1": 1, "2": 1}
    assert sleeps.calls == []
    assert result.failure_reasons == {"bad_event": 1, "invalid_payload": 1}
    first, second = result.failures
    assert (first.delivery.event["labels"], first.error.status) == ({"n": "0"}, 400)
    assert (first.error.message, first.attempts) == ("no good", 1)
    assert second.delivery == invalid
    assert second.error.message.startswith("the event is invalid: $.eventType")
    assert await stored(http, mock_url) == [("u_0", "2")]


async def test_an_exhausted_retry_budget_fails_with_the_last_error(
    flaky: Flaky, token: str, http: ClientSession, mock_url: str, session: ClientSession
) -> None:
    flaky.scripts["0"] = [Reply(502, "upstream down")] + [Reply(503, "upstream overloaded")] * 9
    sleeps = Sleeps()
    client = make_client(session, flaky.url, token, sleeps, max_retries=3, backoff_max=0.75)

    result = await client.deliver([item(0, "u_0"), item(1, "u_1")])

    assert (result.sent, result.failed, result.attempts, result.retries) == (1, 1, 5, 3)
    assert flaky.attempts == {"0": 4, "1": 1}
    assert sleeps.calls == jitter(0.5, 0.75, 0.75)
    assert result.failure_reasons == {"http_503": 1}
    [failure] = result.failures
    assert (failure.error.status, failure.error.message) == (503, "upstream overloaded")
    assert failure.attempts == 4
    assert await stored(http, mock_url) == [("u_1", "1")]


async def test_an_unreachable_server_fails_after_the_retry_budget(
    token: str, session: ClientSession
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps = Sleeps()
    client = make_client(session, f"http://127.0.0.1:{port}", token, sleeps, max_retries=2)

    result = await client.deliver([item(0, "u_0")])

    assert (result.sent, result.failed, result.attempts) == (0, 1, 3)
    assert result.failure_reasons == {"connect_failed": 1}
    assert result.failures[0].error.status is None
    assert sleeps.calls == jitter(0.5, 1.0)


async def test_in_flight_requests_never_exceed_the_bound_and_one_actor_waits_its_turn(
    flaky: Flaky, token: str, http: ClientSession, mock_url: str, session: ClientSession
) -> None:
    flaky.gate_at = 8  # nothing is answered until 8 requests are in flight at once
    items = traffic(200, 16, run=3)  # runs of 3 events per actor: 0-2 u_0, 3-5 u_1, ...

    result = await make_client(session, flaky.url, token, concurrency=8).deliver(items)

    assert (result.sent, result.failed, result.attempts) == (200, 0, 200)
    assert flaky.max_inflight == 8
    assert flaky.max_actor_inflight == 1
    assert len(flaky.ports) == 8  # keep-alive: the session's 8 connections carried all 200
    expected = input_order(items)
    assert expected["u_0"] == [0, 1, 2, 48, 49, 50, 96, 97, 98, 144, 145, 146, 192, 193, 194]
    assert per_actor(flaky.stored) == expected
    assert per_actor(await stored(http, mock_url)) == expected


async def test_retries_of_one_event_hold_back_the_later_events_of_its_actor(
    flaky: Flaky, token: str, http: ClientSession, mock_url: str, session: ClientSession
) -> None:
    for n in range(0, 120, 5):
        flaky.scripts[str(n)] = [Reply(503, "try again")] * (1 + n % 2)
    sleeps = Sleeps()
    items = traffic(120, 6)

    result = await make_client(session, flaky.url, token, sleeps, concurrency=4).deliver(items)

    assert (result.sent, result.failed, result.retries, result.attempts) == (120, 0, 36, 156)
    assert len(sleeps.calls) == 36
    assert flaky.max_inflight <= 4
    assert flaky.max_actor_inflight == 1
    expected = {f"u_{a}": list(range(a, 120, 6)) for a in range(6)}
    assert per_actor(flaky.stored) == expected
    assert per_actor(await stored(http, mock_url)) == expected


async def test_concurrent_deliveries_through_one_client_keep_each_actors_order(
    flaky: Flaky, token: str, http: ClientSession, mock_url: str, session: ClientSession
) -> None:
    flaky.scripts["0"] = [Reply(503, "try again")] * 3  # the first call's first event lags
    client = make_client(session, flaky.url, token, concurrency=8)

    first, second = await asyncio.gather(
        client.deliver([item(0, "u_0"), item(1, "u_1")]),
        client.deliver([item(2, "u_0"), item(3, "u_1")]),
    )

    assert (first.sent, first.attempts, second.sent, second.attempts) == (2, 5, 2, 2)
    assert per_actor(await stored(http, mock_url)) == {"u_0": [0, 2], "u_1": [1, 3]}


# -- values -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None), ("", None), ("0", 0.0), (" 12 ", 12.0), ("1.5", 1.5), ("-1", None),
        ("nan", None), ("later", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
        (formatdate(NOW + 90, usegmt=True), 90.0),
    ],
)
def test_retry_after_values(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, NOW) == expected
