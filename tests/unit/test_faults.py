"""The fault rule engine (mockserver/faults.py), pure: validation, budgets, seeded draws, how
rules combine; and the store's side of faults: events shown later keep id order, and a key
stored twice is counted."""

from __future__ import annotations

import random
from typing import Any

import pytest

from mockserver.errors import FaultRuleLimit, InvalidFaultRule
from mockserver.faults import Arrival, Block, FaultBook, Storing, parse_rule
from mockserver.settings import Limits
from mockserver.state.store import EventQuery, Prepared, Store
from mockserver.validation.events import EventValidator

A, B = "tenant-a", "tenant-b"
T0 = 1000.0  # the monotonic clock, injected


def violations(body: Any) -> list[dict[str, str]]:
    with pytest.raises(InvalidFaultRule) as refused:
        parse_rule(body)
    assert refused.value.status == 400
    assert refused.value.code == "invalid_fault_rule"
    found: list[dict[str, str]] = refused.value.details["violations"]
    return found


def fire_pattern(book: FaultBook, tenant: str, requests: int, now: float = T0) -> list[str]:
    """What each of `requests` arriving requests meets: a blocking rule's id, or '-'."""
    pattern = []
    for _ in range(requests):
        block = book.on_arrival(tenant, now).block
        pattern.append(block.rule_id if block else "-")
    return pattern


# -- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "listed"), [
    ({"kind": "status", "status": 503, "times": 5},
     {"kind": "status", "status": 503, "times": 5}),
    ({"kind": "status", "status": 429, "retryAfter": 2, "probability": 0.3, "seed": 7},
     {"kind": "status", "status": 429, "retryAfter": 2, "probability": 0.3, "seed": 7}),
    ({"kind": "latency", "ms": 200, "durationSeconds": 10},
     {"kind": "latency", "ms": 200, "durationSeconds": 10}),
    ({"kind": "reset", "times": 1}, {"kind": "reset", "times": 1}),
    ({"kind": "truncate", "times": 1}, {"kind": "truncate", "times": 1}),
    ({"kind": "delayVisibility", "ms": 1500, "times": 3},
     {"kind": "delayVisibility", "ms": 1500, "times": 3}),
    # Whole numbers as JSON Schema counts them; fields listed kind first, then its own, then
    # the budget, whatever order they came in.
    ({"times": 2.0, "status": 502.0, "kind": "status", "retryAfterFormat": "date",
      "retryAfter": 3},
     {"kind": "status", "status": 502, "retryAfter": 3, "retryAfterFormat": "date",
      "times": 2}),
    ({"kind": "latency", "ms": 0, "jitterMs": 12.5, "probability": 0},
     {"kind": "latency", "ms": 0, "jitterMs": 12.5, "probability": 0}),
])
def test_the_issues_rule_forms_are_accepted_and_listed_as_given(
    body: dict[str, Any], listed: dict[str, Any]
) -> None:
    book = FaultBook()
    assert book.add(A, body, T0) == {"id": "flt_1", **listed, "fired": 0, "considered": 0,
                                     "active": True}
    assert list(book.rules(A, T0)[0]) == ["id", *listed, "fired", "considered", "active"]


def test_the_parsed_rule_holds_its_settings() -> None:
    spec = parse_rule({"kind": "status", "status": 429, "retryAfter": 2,
                       "retryAfterFormat": "date", "probability": 0.3, "seed": 7,
                       "times": 4, "durationSeconds": 1.5})
    assert (spec.kind, spec.status, spec.retry_after, spec.retry_after_date, spec.probability,
            spec.seed, spec.times, spec.duration_seconds) == (
        "status", 429, 2, True, 0.3, 7, 4, 1.5)
    latency = parse_rule({"kind": "latency", "ms": 200})
    assert (latency.ms, latency.jitter_ms, latency.times, latency.duration_seconds,
            latency.probability, latency.seed) == (200.0, 0.0, None, None, 1.0, 0)


@pytest.mark.parametrize(("body", "expected"), [
    ([], [("$", 'a fault rule is a JSON object, e.g. {"kind": "status", "status": 503, '
                '"times": 5}')]),
    ({}, [("$.kind", "missing; use one of status, latency, reset, truncate, delayVisibility")]),
    ({"kind": "explode"},
     [("$.kind", '"explode" is not a kind; use one of status, latency, reset, truncate, '
                 "delayVisibility")]),
    ({"kind": "status", "status": 404},
     [("$.status", "must be one of 429, 500, 502, 503, 504, not 404")]),
    ({"kind": "status", "status": "503"},
     [("$.status", 'must be one of 429, 500, 502, 503, 504, not "503"')]),
    ({"kind": "status"}, [("$.status", "a status rule needs status")]),
    ({"kind": "reset", "times": -1},
     [("$.times", "must be from 1 to 1000000000 requests, not -1")]),
    ({"kind": "reset", "times": 0},
     [("$.times", "must be from 1 to 1000000000 requests, not 0")]),
    ({"kind": "reset", "times": 1.5},
     [("$.times", "must be a whole number from 1 to 1000000000, not 1.5")]),
    ({"kind": "reset", "times": True},
     [("$.times", "must be a whole number from 1 to 1000000000, not true")]),
    ({"kind": "truncate", "probability": 1.01},
     [("$.probability", "must be a number from 0 to 1 (a probability), not 1.01")]),
    ({"kind": "truncate", "probability": -0.1},
     [("$.probability", "must be a number from 0 to 1 (a probability), not -0.1")]),
    ({"kind": "truncate", "durationSeconds": 0},
     [("$.durationSeconds", "must be a number more than 0 to 86400 seconds, not 0")]),
    ({"kind": "truncate", "seed": -7},
     [("$.seed", "must be from 0 to 9007199254740991, not -7")]),
    ({"kind": "latency"}, [("$.ms", "a latency rule needs ms")]),
    ({"kind": "latency", "ms": 60_001},
     [("$.ms", "must be a number from 0 to 60000 milliseconds, not 60001")]),
    ({"kind": "delayVisibility", "ms": float("inf")},
     [("$.ms", "must be a number from 0 to 600000 milliseconds, not Infinity")]),
    ({"kind": "reset", "status": 503},
     [("$.status", "not a field of a reset rule; its fields are kind, times, durationSeconds, "
                   "probability, seed")]),
    ({"kind": "status", "status": 503, "retryAfterFormat": "date"},
     [("$.retryAfterFormat",
       "needs retryAfter: a status rule takes retryAfterFormat only with retryAfter")]),
    ({"kind": "status", "status": 503, "retryAfter": 1, "retryAfterFormat": "http"},
     [("$.retryAfterFormat", 'must be one of seconds, date, not "http"')]),
])
def test_an_invalid_rule_says_what_to_fix(body: Any, expected: list[tuple[str, str]]) -> None:
    assert violations(body) == [{"path": p, "message": m} for p, m in expected]


@pytest.mark.parametrize(("body", "expected"), [
    # Values are shown as JSON writes them, whatever their type.
    ({"kind": 5}, [("$.kind", "5 is not a kind; use one of status, latency, reset, truncate, "
                              "delayVisibility")]),
    ({"kind": "reset", "times": {"a": 1}},
     [("$.times", 'must be a whole number from 1 to 1000000000, not {"a": 1}')]),
    ({"kind": "reset", "durationSeconds": True},
     [("$.durationSeconds", "must be a number more than 0 to 86400 seconds, not true")]),
    ({"kind": "reset", "times": -1.0},
     [("$.times", "must be from 1 to 1000000000 requests, not -1")]),
    # NaN passes every bound of a schema; it is refused all the same.
    ({"kind": "latency", "ms": float("nan")},
     [("$.ms", "must be a number from 0 to 60000 milliseconds, not NaN")]),
    # A missing field, a field with a wrong value and a missing companion, each by its path.
    ({"kind": "latency", "times": 0},
     [("$.ms", "a latency rule needs ms"),
      ("$.times", "must be from 1 to 1000000000 requests, not 0")]),
    ({"kind": "status", "status": 503, "retryAfterFormat": "http"},
     [("$.retryAfterFormat",
       "needs retryAfter: a status rule takes retryAfterFormat only with retryAfter"),
      ("$.retryAfterFormat", 'must be one of seconds, date, not "http"')]),
])
def test_each_problem_is_worded_from_the_contract(
    body: Any, expected: list[tuple[str, str]]
) -> None:
    assert violations(body) == [{"path": p, "message": m} for p, m in expected]


def test_every_problem_is_reported_at_once_and_the_message_names_the_first() -> None:
    body = {"kind": "status", "status": 200, "times": -3, "probability": 7, "colour": "red"}
    with pytest.raises(InvalidFaultRule) as refused:
        parse_rule(body)
    assert [v["path"] for v in refused.value.details["violations"]] == [
        "$.colour", "$.status", "$.times", "$.probability"]
    assert refused.value.message == (
        "the fault rule is invalid: $.colour: not a field of a status rule; its fields are kind, "
        "status, retryAfter, retryAfterFormat, times, durationSeconds, probability, seed "
        "(and 3 more)")


def test_an_invalid_rule_is_not_added() -> None:
    book = FaultBook()
    with pytest.raises(InvalidFaultRule):
        book.add(A, {"kind": "status", "status": 418}, T0)
    assert book.rules(A, T0) == []
    assert book.add(A, {"kind": "reset"}, T0)["id"] == "flt_1"


# -- budgets ------------------------------------------------------------------------------------


def test_times_fires_on_exactly_that_many_requests() -> None:
    book = FaultBook()
    book.add(A, {"kind": "status", "status": 503, "times": 3}, T0)
    assert fire_pattern(book, A, 5) == ["flt_1", "flt_1", "flt_1", "-", "-"]
    assert book.rules(A, T0) == [{"id": "flt_1", "kind": "status", "status": 503, "times": 3,
                                  "fired": 3, "considered": 3, "active": False}]


def test_a_window_ends_durationseconds_after_the_rule_was_added() -> None:
    book = FaultBook()
    book.add(A, {"kind": "reset", "durationSeconds": 2}, T0)
    assert fire_pattern(book, A, 1, T0) == ["flt_1"]
    assert fire_pattern(book, A, 1, T0 + 1.999) == ["flt_1"]
    assert book.rules(A, T0 + 1.999)[0]["active"] is True
    assert fire_pattern(book, A, 1, T0 + 2.0) == ["-"]
    assert book.rules(A, T0 + 2.0)[0] == {"id": "flt_1", "kind": "reset", "durationSeconds": 2,
                                          "fired": 2, "considered": 2, "active": False}


def test_times_and_a_window_end_at_whichever_comes_first() -> None:
    book = FaultBook()
    book.add(A, {"kind": "reset", "times": 2, "durationSeconds": 10}, T0)
    book.add(A, {"kind": "status", "status": 500, "times": 100, "durationSeconds": 1}, T0)
    assert fire_pattern(book, A, 4, T0) == ["flt_1", "flt_1", "flt_2", "flt_2"]
    assert fire_pattern(book, A, 1, T0 + 1) == ["-"]


def test_a_rule_without_a_budget_fires_until_cleared() -> None:
    book = FaultBook()
    book.add(A, {"kind": "status", "status": 502}, T0)
    assert fire_pattern(book, A, 3, T0 + 86_400 * 365) == ["flt_1"] * 3
    assert book.clear(A) == 1
    assert fire_pattern(book, A, 1) == ["-"]
    assert book.clear(A) == 0


def test_a_probability_draws_from_the_rules_own_seeded_generator() -> None:
    book = FaultBook()
    book.add(A, {"kind": "status", "status": 429, "retryAfter": 2, "probability": 0.3,
                 "seed": 7}, T0)
    draws = random.Random(7)
    expected = ["flt_1" if draws.random() < 0.3 else "-" for _ in range(200)]
    assert fire_pattern(book, A, 200) == expected
    assert 40 <= expected.count("flt_1") <= 80  # the seed gives a plausible 30 %
    listed = book.rules(A, T0)[0]
    assert (listed["fired"], listed["considered"]) == (expected.count("flt_1"), 200)


def test_the_same_rules_and_requests_replay_the_same_faults_and_another_seed_does_not() -> None:
    def run(seed: int) -> list[tuple[float, str | None, str | None, float]]:
        book = FaultBook()
        book.add(A, {"kind": "latency", "ms": 5, "jitterMs": 20, "probability": 0.5,
                     "seed": seed}, T0)
        book.add(A, {"kind": "status", "status": 503, "probability": 0.2, "seed": seed + 1}, T0)
        book.add(A, {"kind": "reset", "probability": 0.1, "seed": seed + 2}, T0)
        book.add(A, {"kind": "truncate", "probability": 0.3, "seed": seed + 3}, T0)
        outcomes = []
        for _ in range(100):
            arrival = book.on_arrival(A, T0)
            storing = book.on_storing(A, T0) if arrival.block is None else Storing()
            outcomes.append((arrival.latency_seconds,
                             arrival.block.rule_id if arrival.block else None,
                             storing.truncate_rule, storing.hide_seconds))
        return outcomes

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_probability_with_times_caps_the_fires_and_zero_never_fires() -> None:
    book = FaultBook()
    book.add(A, {"kind": "status", "status": 503, "probability": 0.5, "times": 3, "seed": 1}, T0)
    book.add(A, {"kind": "reset", "probability": 0, "times": 1}, T0)
    pattern = fire_pattern(book, A, 50)
    assert pattern.count("flt_1") == 3
    assert "flt_2" not in pattern
    first, never = book.rules(A, T0)
    assert (first["fired"], first["active"]) == (3, False)
    assert (never["fired"], never["considered"], never["active"]) == (0, 50 - 3, True)


# -- how rules combine --------------------------------------------------------------------------


def test_latency_rules_add_up_and_jitter_stays_in_range() -> None:
    book = FaultBook()
    book.add(A, {"kind": "latency", "ms": 100}, T0)
    book.add(A, {"kind": "latency", "ms": 10, "jitterMs": 40, "seed": 3}, T0)
    jitter = random.Random(3)
    for _ in range(20):
        expected = (100 + 10 + jitter.uniform(0, 40)) / 1000
        assert book.on_arrival(A, T0) == Arrival(pytest.approx(expected), None)


def test_the_first_blocking_rule_to_fire_answers_and_later_ones_are_not_asked() -> None:
    book = FaultBook()
    book.add(A, {"kind": "latency", "ms": 50, "times": 1}, T0)
    book.add(A, {"kind": "reset", "times": 1}, T0)
    book.add(A, {"kind": "status", "status": 429, "retryAfter": 3, "retryAfterFormat": "date",
                 "times": 1}, T0)
    book.add(A, {"kind": "truncate", "times": 1}, T0)
    assert book.on_arrival(A, T0) == Arrival(0.05, Block("flt_2", "reset"))
    assert book.on_arrival(A, T0) == Arrival(0.0, Block("flt_3", "status", 429, 3, True))
    assert book.on_arrival(A, T0) == Arrival(0.0, None)
    assert [(r["fired"], r["considered"]) for r in book.rules(A, T0)] == [
        (1, 1), (1, 1), (1, 1), (0, 0)]


def test_truncate_and_delay_visibility_both_apply_to_a_stored_request() -> None:
    book = FaultBook()
    book.add(A, {"kind": "delayVisibility", "ms": 1500, "times": 3}, T0)
    book.add(A, {"kind": "truncate", "times": 1}, T0)
    book.add(A, {"kind": "truncate", "times": 1}, T0)
    book.add(A, {"kind": "delayVisibility", "ms": 10}, T0)
    assert book.on_arrival(A, T0) == Arrival()
    assert [book.on_storing(A, T0) for _ in range(5)] == [
        Storing("flt_2", 1.5), Storing("flt_3", 1.5), Storing(None, 1.5), Storing(None, 0.01),
        Storing(None, 0.01)]


# -- tenants, ids, limits -----------------------------------------------------------------------


def test_rules_belong_to_their_tenant_and_ids_go_on_after_a_clear() -> None:
    book = FaultBook()
    assert book.add(A, {"kind": "reset"}, T0)["id"] == "flt_1"
    assert book.add(A, {"kind": "truncate"}, T0)["id"] == "flt_2"
    assert book.add(B, {"kind": "truncate"}, T0)["id"] == "flt_1"
    assert fire_pattern(book, B, 1) == ["-"]
    assert [r["id"] for r in book.rules(B, T0)] == ["flt_1"]
    assert book.clear(A) == 2
    assert book.rules(A, T0) == []
    assert book.add(A, {"kind": "reset"}, T0)["id"] == "flt_3"
    assert [r["id"] for r in book.rules(B, T0)] == ["flt_1"]


def test_reading_an_unknown_tenant_creates_nothing() -> None:
    book = FaultBook()
    assert book.rules("nobody", T0) == []
    assert book.on_arrival("nobody", T0) == Arrival()
    assert book.on_storing("nobody", T0) == Storing()
    assert book.clear("nobody") == 0
    assert book.add("nobody", {"kind": "reset"}, T0)["id"] == "flt_1"


def test_a_tenant_has_at_most_max_rules_until_it_clears_them() -> None:
    book = FaultBook(max_rules=3)
    for _ in range(3):
        book.add(A, {"kind": "reset", "times": 1}, T0)
    with pytest.raises(FaultRuleLimit) as full:
        book.add(A, {"kind": "reset"}, T0)
    assert (full.value.status, full.value.code, full.value.details) == (
        409, "too_many_fault_rules", {"limitRules": 3})
    assert full.value.message == ("this tenant already has 3 fault rules, the limit; clear them "
                                  "with DELETE /_mock/faults")
    assert book.add(B, {"kind": "reset"}, T0)["id"] == "flt_1"
    book.clear(A)
    assert book.add(A, {"kind": "reset"}, T0)["id"] == "flt_4"


# -- the store's side ---------------------------------------------------------------------------

VALIDATOR = EventValidator(Limits())


def prepared(store: Store, event_type: str, key: str | None) -> Prepared:
    event = {"eventType": event_type, "eventTime": "2026-11-28T10:00:00Z",
             "actors": {"Customer": {"userId": "u_1"}}}
    _, normalized = VALIDATOR.check(event)
    assert normalized is not None
    outcome = store.prepare(A, [(event, normalized)], "2026-11-28T10:00:01.000Z", key)
    assert isinstance(outcome, Prepared)
    return outcome


def test_an_event_shown_later_is_listed_in_id_order() -> None:
    store = Store()
    hidden, first, second = (prepared(store, t, None) for t in ("Hidden", "First", "Hidden"))
    store.apply(first)
    store.apply(second)
    assert store.events(A, EventQuery())[0] == 2
    store.apply(hidden)  # its delayVisibility passed
    total, events = store.events(A, EventQuery())
    assert (total, [e["id"] for e in events]) == (3, ["evt_0000000001", "evt_0000000002",
                                                      "evt_0000000003"])
    typed = store.events(A, EventQuery(event_type="Hidden"))[1]
    assert [e["id"] for e in typed] == ["evt_0000000001", "evt_0000000003"]
    newest = store.events(A, EventQuery(newest_first=True, limit=1))[1]
    assert [e["id"] for e in newest] == ["evt_0000000003"]


def test_a_key_whose_events_are_stored_twice_is_counted_as_a_duplicate() -> None:
    """The counter the reliability tests assert to be 0 can be non-zero: it watches what is
    applied, not what `prepare` allowed (here a journal holding the same key twice)."""
    store = Store()
    record = prepared(store, "Order Completed", "k-1").entry()
    assert store.stats(A)["duplicateIdempotencyKeys"] == 0
    rebuilt = Store()
    rebuilt.replay(record)
    rebuilt.replay(prepared(store, "Order Completed", "k-2").entry())
    assert rebuilt.stats(A)["duplicateIdempotencyKeys"] == 0
    rebuilt.replay({**record, "docs": [{**record["docs"][0], "seq": 3, "id": "evt_0000000003"}]})
    assert (rebuilt.stats(A)["events"], rebuilt.stats(A)["duplicateIdempotencyKeys"]) == (3, 1)


def test_a_reset_forgets_the_stored_keys() -> None:
    store = Store()
    store.apply(prepared(store, "Order Completed", "k-1"))
    store.reset(A)
    store.apply(prepared(store, "Order Completed", "k-1"))
    assert (store.stats(A)["events"], store.stats(A)["duplicateIdempotencyKeys"]) == (1, 0)
