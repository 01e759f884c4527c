"""Delivery through the gateway while the mock misbehaves on purpose (its fault rules).

- 2,000 Segment messages through the gateway while about 30 % of the mock's answers are faults
  (429 with Retry-After in seconds and as a date, 500, 502, 503, connection resets, truncated
  answers, added latency): every event is stored exactly once (no Idempotency-Key stored twice),
  each actor's events in order, and the gateway's and the mock's counters agree.
- An outage longer than the retry budget: exactly the messages it hit are dead letters, nothing
  else is missing, and a re-drive after the outage delivers them, once.

Retries wait milliseconds (backoff and Retry-After are capped for the test), so the faults cost
attempts, not time.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from aiohttp import ClientSession

from connector.config import DeliveryConfig
from tests.e2e.gateway_helpers import counts, gateway_stats, get, run_gateway
from tests.reliability.fault_traffic import (
    Json,
    accept,
    add_faults,
    messages,
    mock_json,
    per_actor,
    stored_numbers,
)

# Seeded, so a run can be replayed. Blocking faults (status, reset) are asked in this order and
# the first that fires answers; together with latency and truncate about 30 % of requests meet
# a fault.
MIXED_FAULTS: list[Json] = [
    {"kind": "latency", "ms": 1, "jitterMs": 9, "probability": 0.08, "seed": 101},
    {"kind": "status", "status": 429, "retryAfter": 1, "probability": 0.05, "seed": 102},
    {"kind": "status", "status": 429, "retryAfter": 1, "retryAfterFormat": "date",
     "probability": 0.03, "seed": 103},
    {"kind": "status", "status": 500, "probability": 0.04, "seed": 104},
    {"kind": "status", "status": 502, "probability": 0.03, "seed": 105},
    {"kind": "status", "status": 503, "retryAfter": 0, "probability": 0.03, "seed": 106},
    {"kind": "reset", "probability": 0.04, "seed": 107},
    {"kind": "truncate", "probability": 0.03, "seed": 108},
]


def quick_retries(url: str, token: str, **overrides: Any) -> DeliveryConfig:
    """Retries at most 5 ms apart, a Retry-After capped to 5 ms too."""
    settings: Json = {"concurrency": 8, "max_retries": 25, "backoff_base": 0.001,
                      "backoff_max": 0.005, "retry_after_max": 0.005, **overrides}
    return DeliveryConfig(url=url, token=token, **settings)


async def test_2000_events_under_30_percent_mixed_faults_are_stored_once_each_in_order(
    mock_url: str, token: str, http: ClientSession
) -> None:
    total, actors = 2000, 40
    await add_faults(http, mock_url, MIXED_FAULTS)
    async with run_gateway(mock_url, token, delivery=quick_retries(mock_url, token)) as gateway:
        await accept(http, gateway, messages(total, actors))
        assert await gateway_stats(http, gateway, delivered=total) == counts(
            received=total, delivered=total)
        status, dead = await get(http, f"{gateway}/_gateway/deadletter")
        assert (status, dead) == (200, {"total": 0, "messages": []})

    stored = await stored_numbers(http, mock_url)
    assert sorted(n for _, n in stored) == list(range(total))  # each exactly once
    assert per_actor(stored) == {
        f"actor-{k}": list(range(k, total, actors)) for k in range(actors)}

    rules = (await mock_json(http, mock_url, "/_mock/faults"))["rules"]
    fired = {rule["id"]: rule["fired"] for rule in rules}
    assert all(count > 0 for count in fired.values()), fired  # every kind really happened
    requests = rules[0]["considered"]  # the latency rule is asked about every request
    blocked = sum(r["fired"] for r in rules if r["kind"] in ("status", "reset"))
    truncated = next(r["fired"] for r in rules if r["kind"] == "truncate")
    faulted = blocked + truncated + rules[0]["fired"]
    assert 0.25 <= faulted / requests <= 0.40, (faulted, requests)
    # Every request was answered with a fault, stored once, or replayed after a cut answer.
    stats = await mock_json(http, mock_url, "/_mock/stats")
    assert requests == blocked + total + truncated
    assert (stats["events"], stats["duplicateIdempotencyKeys"], stats["idempotentReplays"],
            stats["rejected"]) == (total, 0, truncated, 0)
    assert stats["eventTypes"] == {"Order Completed": total - 2 * actors,
                                   "Product Viewed": actors, "identify": actors}
    assert (stats["actors"], stats["stitchedActors"], stats["conflicts"]) == (actors, actors, 0)


async def test_an_outage_past_the_retry_budget_dead_letters_exactly_the_messages_it_hit(
    mock_url: str, token: str, http: ClientSession
) -> None:
    """One actor, whose events go one at a time in order, so the outage hits known messages:
    3 attempts each (2 retries)."""
    half, actors = 150, 1
    delivery = quick_retries(mock_url, token, max_retries=2)
    async with run_gateway(mock_url, token, delivery=delivery) as gateway:
        await accept(http, gateway, messages(half, actors))
        assert await gateway_stats(http, gateway, delivered=half) == counts(
            received=half, delivered=half)
        # The outage: two messages answered 503 three times, one reset three times.
        await add_faults(http, mock_url, [{"kind": "status", "status": 503, "times": 6},
                                          {"kind": "reset", "times": 3}])
        await accept(http, gateway, messages(half, actors, first=half))
        assert await gateway_stats(http, gateway, delivered=2 * half - 3,
                                   deadLettered=3) == counts(
            received=2 * half, delivered=2 * half - 3, deadLettered=3)

        status, dead = await get(http, f"{gateway}/_gateway/deadletter")
        assert status == 200
        assert [(m["messageId"], m["attempts"], m["error"]["code"], m["error"]["details"])
                for m in dead["messages"]] == [
            ("m-150", 3, "injected_fault", {"status": 503, "retryable": True}),
            ("m-151", 3, "injected_fault", {"status": 503, "retryable": True}),
            ("m-152", 3, "connection_error", {"status": None, "retryable": True}),
        ]
        assert dead["total"] == 3
        # Nothing else is missing, and nothing is there twice.
        stored = await stored_numbers(http, mock_url)
        assert sorted(n for _, n in stored) == [n for n in range(2 * half)
                                                if n not in (150, 151, 152)]
        assert per_actor(stored) == {
            "actor-0": [n for n in range(2 * half) if n not in (150, 151, 152)]}

        # The outage is over: re-driven, the dead letters arrive, once each.
        async with http.post(f"{gateway}/_gateway/deadletter/redrive") as response:
            assert (response.status, await response.json()) == (
                200, {"redriven": 3, "notFound": []})
        assert await gateway_stats(http, gateway, delivered=2 * half) == counts(
            received=2 * half, delivered=2 * half)

    stored = await stored_numbers(http, mock_url)
    assert Counter(n for _, n in stored) == Counter(range(2 * half))
    assert [n for _, n in stored[-3:]] == [150, 151, 152]
    stats = await mock_json(http, mock_url, "/_mock/stats")
    assert (stats["events"], stats["duplicateIdempotencyKeys"], stats["idempotentReplays"]) == (
        2 * half, 0, 0)
    rules = (await mock_json(http, mock_url, "/_mock/faults"))["rules"]
    assert [(r["kind"], r["fired"], r["active"]) for r in rules] == [
        ("status", 6, False), ("reset", 3, False)]
