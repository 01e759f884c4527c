"""Store: two-step writes, idempotency, queries, profiles, tenants, replay and segment tables."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from mockserver.errors import ActorNotFound, IdempotencyConflict
from mockserver.state.store import (
    EventQuery,
    Prepared,
    Rejected,
    Replay,
    Store,
    fingerprint,
    tenant_key,
)
from mockserver.validation.events import Normalized
from tests.unit.store_helpers import RECEIVED, ev, items

A = "tenant-a"
B = "tenant-b"


def prepare(store: Store, tenant: str, *events: dict[str, Any], key: str | None = None
            ) -> Prepared:
    outcome = store.prepare(tenant, items(*events), RECEIVED, key)
    assert isinstance(outcome, Prepared)
    return outcome


def add(store: Store, tenant: str, *events: dict[str, Any], key: str | None = None) -> list[str]:
    prepared = prepare(store, tenant, *events, key=key)
    store.apply(prepared)
    return prepared.ids


def ids(store: Store, tenant: str, **query: Any) -> list[str]:
    _, docs = store.events(tenant, EventQuery(**query))
    return [doc["id"] for doc in docs]


def evt(*seqs: int) -> list[str]:
    return [f"evt_{seq:010d}" for seq in seqs]


EMPTY_STATS = {"events": 0, "eventTypes": {}, "actors": 0, "stitchedActors": 0,
               "conflicts": 0, "rejected": 0, "idempotentReplays": 0,
               "duplicateIdempotencyKeys": 0}


# -- writing ----------------------------------------------------------------------------------


def test_prepare_assigns_ids_and_apply_makes_events_visible() -> None:
    store = Store()
    event = ev("Order Completed", "2026-11-28T11:00:00+01:00", userId="u1")
    prepared = prepare(store, A, event)

    assert prepared.ids == evt(1)
    assert prepared.entry() == {
        "op": "add", "t": A, "k": None, "fp": None,
        "docs": [{"seq": 1, "id": "evt_0000000001", "receivedAt": RECEIVED,
                  "eventTime": "2026-11-28T10:00:00.000Z", "numbers": {}, "event": event}],
    }
    # Not durable yet: nothing is visible.
    assert store.events(A, EventQuery()) == (0, [])
    assert store.stats(A) == EMPTY_STATS

    store.apply(prepared)
    assert store.events(A, EventQuery()) == (1, [{
        "id": "evt_0000000001", "receivedAt": RECEIVED,
        "eventTime": "2026-11-28T10:00:00.000Z", "idempotencyKey": None, "event": event}])
    assert prepare(store, A, event).ids == evt(2)


def test_a_batch_gets_consecutive_ids_and_each_tenant_counts_its_own() -> None:
    store = Store()
    batch = [ev("Page Viewed", f"2026-11-28T10:00:0{n}Z", anonymousId="a1") for n in range(3)]
    assert add(store, A, *batch) == evt(1, 2, 3)
    assert add(store, B, ev("Page Viewed", "2026-11-28T10:00:00Z", anonymousId="a1")) == evt(1)
    assert add(store, A, ev("Page Viewed", "2026-11-28T10:00:00Z", anonymousId="a1")) == evt(4)
    assert ids(store, A) == evt(1, 2, 3, 4)
    assert ids(store, B) == evt(1)


def test_the_same_key_and_body_replays_the_original_ids() -> None:
    store = Store()
    batch = [ev("Order Completed", "2026-11-28T10:00:00Z", numbers={"revenue": 5}, userId="u1"),
             ev("Order Completed", "2026-11-28T10:01:00Z", numbers={"revenue": 7}, userId="u1")]
    assert add(store, A, *batch, key="k-1") == evt(1, 2)

    again = store.prepare(A, items(*batch), RECEIVED, "k-1")
    assert again == Replay(evt(1, 2))
    # The same JSON with its keys in another order is the same body.
    reordered = [dict(reversed(list(event.items()))) for event in batch]
    assert store.prepare(A, items(*reordered), RECEIVED, "k-1") == Replay(evt(1, 2))

    assert ids(store, A) == evt(1, 2)  # nothing new stored
    assert store.stats(A)["idempotentReplays"] == 2
    assert store.stats(A)["events"] == 2


def test_each_event_lists_the_key_it_was_stored_with() -> None:
    store = Store()
    add(store, A, ev("Page Viewed", "2026-11-28T10:00:00Z", anonymousId="a1"),
        ev("Page Viewed", "2026-11-28T10:00:01Z", anonymousId="a1"), key="msg-1")
    add(store, A, ev("Page Viewed", "2026-11-28T10:00:02Z", anonymousId="a1"))
    listed = [doc["idempotencyKey"] for doc in store.events(A, EventQuery())[1]]
    assert listed == ["msg-1", "msg-1", None]  # a batch's events share its key
    actor = store.actor(A, ("Customer", "anonymousId", "a1"))
    assert [doc["idempotencyKey"] for doc in actor["events"]] == ["msg-1", "msg-1", None]


def test_a_record_written_before_keys_were_listed_still_replays() -> None:
    event = ev("Page Viewed", "2026-11-28T10:00:00Z", anonymousId="a1")
    old = {"op": "add", "t": A, "k": "msg-1", "fp": fingerprint([event]),
           "docs": [{"seq": 1, "id": "evt_0000000001", "receivedAt": RECEIVED,
                     "eventTime": "2026-11-28T10:00:00.000Z", "numbers": {}, "event": event}]}
    store = Store()
    store.replay(old)
    assert store.events(A, EventQuery()) == (1, [{
        "id": "evt_0000000001", "receivedAt": RECEIVED,
        "eventTime": "2026-11-28T10:00:00.000Z", "idempotencyKey": None, "event": event}])
    assert store.prepare(A, items(event), RECEIVED, "msg-1") == Replay(evt(1))


def test_a_key_claimed_but_not_yet_applied_replays_its_ids() -> None:
    store = Store()
    event = ev("identify", "2026-11-28T10:00:00Z", userId="u1")
    first = prepare(store, A, event, key="k-1")
    assert store.prepare(A, items(event), RECEIVED, "k-1") == Replay(first.ids)
    store.apply(first)
    assert ids(store, A) == first.ids == evt(1)


def test_the_same_key_with_another_body_is_a_conflict() -> None:
    store = Store()
    add(store, A, ev("Order Completed", "2026-11-28T10:00:00Z", userId="u1"), key="k-1")

    with pytest.raises(IdempotencyConflict) as caught:
        store.prepare(A, items(ev("Order Completed", "2026-11-28T10:00:01Z", userId="u1")),
                      RECEIVED, "k-1")
    assert caught.value.status == 409
    assert caught.value.body() == {"error": {
        "code": "idempotency_key_reused",
        "message": "this Idempotency-Key was used before with a different body; "
                   "use a new key for a new event",
        "details": {"idempotencyKey": "k-1", "originalIds": evt(1)},
    }}
    assert ids(store, A) == evt(1)
    assert store.stats(A)["idempotentReplays"] == 0


def test_keys_belong_to_one_tenant() -> None:
    store = Store()
    event = ev("Order Completed", "2026-11-28T10:00:00Z", userId="u1")
    assert add(store, A, event, key="k-1") == evt(1)
    assert add(store, B, event, key="k-1") == evt(1)
    assert add(store, B, ev("Other", "2026-11-28T10:00:00Z", userId="u1"), key="k-2") == evt(2)
    assert ids(store, A) == evt(1)
    assert ids(store, B) == evt(1, 2)


def test_abort_releases_the_key() -> None:
    store = Store()
    refused = prepare(store, A, ev("Order Completed", "2026-11-28T10:00:00Z", userId="u1"),
                      key="k-1")
    store.abort(refused)
    assert store.events(A, EventQuery()) == (0, [])
    # The key is free again, even for another body; the refused id is never reused.
    retried = prepare(store, A, ev("Order Completed", "2026-11-28T10:00:05Z", userId="u1"),
                      key="k-1")
    assert retried.ids == evt(2)
    store.apply(retried)
    assert ids(store, A) == evt(2)


# -- reading ----------------------------------------------------------------------------------


@pytest.fixture
def queried() -> Store:
    store = Store()
    add(store, A,
        ev("Page Viewed", "2026-11-28T09:00:00Z", anonymousId="a1"),             # 1
        ev("Order Completed", "2026-11-28T11:30:00+02:00", anonymousId="a1"),    # 2 09:30Z
        ev("identify", "2026-11-28T10:00:00Z", userId="u1", anonymousId="a1"),  # 3
        ev("Order Completed", "2026-11-28T10:30:00.000Z", userId="u1"),          # 4
        ev("Order Completed", "2026-11-28T03:00:00-05:00", userId="u2"),         # 5 08:00Z
        ev("Page Viewed", "2026-11-28T11:00:00Z", anonymousId="a2"),             # 6
    )
    add(store, B, ev("Order Completed", "2026-11-28T10:30:00Z", userId="u1"))    # 7
    return store


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, [1, 2, 3, 4, 5, 6]),
        ({"event_type": "Order Completed"}, [2, 4, 5]),
        ({"event_type": "identify"}, [3]),
        ({"event_type": "Nothing"}, []),
        # Stitched: the anonymous events before the identify belong to u1.
        ({"user_id": "u1"}, [1, 2, 3, 4]),
        ({"anonymous_id": "a1"}, [1, 2, 3, 4]),
        ({"anonymous_id": "a2"}, [6]),
        ({"user_id": "u1", "anonymous_id": "a1"}, [1, 2, 3, 4]),
        ({"user_id": "u1", "anonymous_id": "a2"}, []),
        ({"user_id": "nobody"}, []),
        ({"user_id": "u1", "actor_type": "Account"}, []),
        ({"user_id": "u1", "event_type": "Order Completed"}, [2, 4]),
        # since/until are inclusive and compare normalized UTC times, not the text as sent.
        ({"since": "2026-11-28T09:30:00.000Z"}, [2, 3, 4, 6]),
        ({"until": "2026-11-28T09:30:00.000Z"}, [1, 2, 5]),
        ({"since": "2026-11-28T09:00:00.000Z", "until": "2026-11-28T10:00:00.000Z"}, [1, 2, 3]),
        ({"since": "2026-11-28T11:00:00.001Z"}, []),
        ({"user_id": "u1", "event_type": "Order Completed",
          "since": "2026-11-28T10:00:00.000Z"}, [4]),
        ({"limit": 2, "offset": 1}, [2, 3]),
        ({"limit": 0}, []),
        ({"offset": 6}, []),
        ({"newest_first": True}, [6, 5, 4, 3, 2, 1]),
        ({"newest_first": True, "limit": 2}, [6, 5]),
        ({"newest_first": True, "offset": 4, "limit": 10}, [2, 1]),
        ({"newest_first": True, "event_type": "Order Completed", "limit": 2}, [5, 4]),
    ],
)
def test_event_queries(queried: Store, query: dict[str, Any], expected: list[int]) -> None:
    total, docs = queried.events(A, EventQuery(**query))
    assert [doc["id"] for doc in docs] == evt(*expected)
    unpaged = {k: v for k, v in query.items() if k not in ("limit", "offset", "newest_first")}
    assert total == queried.count(A, EventQuery(**unpaged))


def test_totals_count_every_match_not_the_page(queried: Store) -> None:
    assert queried.events(A, EventQuery(limit=2, offset=1))[0] == 6
    assert queried.events(A, EventQuery(event_type="Order Completed", limit=1))[0] == 3
    assert queried.count(A, EventQuery(user_id="u1")) == 4
    assert queried.count(B, EventQuery()) == 1


def test_listed_events_keep_the_event_as_sent_with_the_normalized_time(queried: Store) -> None:
    _, docs = queried.events(A, EventQuery(event_type="Order Completed", limit=1))
    assert docs == [{
        "id": "evt_0000000002", "receivedAt": RECEIVED, "eventTime": "2026-11-28T09:30:00.000Z",
        "idempotencyKey": None,
        "event": ev("Order Completed", "2026-11-28T11:30:00+02:00", anonymousId="a1"),
    }]


def test_the_profile_keeps_the_latest_identify_values() -> None:
    store = Store()
    add(store, A,
        ev("identify", "2026-11-28T10:00:00Z", {"plan": "free", "tier": "bronze"},
           {"score": "10"}, anonymousId="a1"),                                    # 1
        ev("Order Completed", "2026-11-28T12:00:00Z", {"plan": "not a trait"},
           {"revenue": 5}, anonymousId="a1"),                                      # 2: a track
        ev("identify", "2026-11-28T11:00:00Z", {"plan": "pro"},
           {"tier": 2, "score": 20}, userId="u1", anonymousId="a1"),              # 3
        ev("identify", "2026-11-28T09:00:00Z", {"plan": "enterprise", "region": "eu"},
           {"age": "41"}, userId="u1"),                                            # 4: older
        ev("identify", "2026-11-28T12:00:00+01:00", {"score": "high"},
           userId="u1"),                                                           # 5: ties 3
    )
    # By eventTime: 4 (09:00), 1 (10:00), then 3 and 5 at 11:00Z, in arrival order.
    profile = store.actor(A, ("Customer", "userId", "u1"))
    assert profile["labels"] == {"plan": "pro", "region": "eu", "score": "high"}
    assert profile["numbers"] == {"age": 41, "tier": 2}
    assert list(profile["labels"]) == ["plan", "region", "score"]
    assert store.actor(A, ("Customer", "anonymousId", "a1")) == profile


def test_a_key_switches_between_label_and_number() -> None:
    store = Store()
    add(store, A, ev("identify", "2026-11-28T10:00:00Z", {"tier": "gold"}, userId="u1"))
    assert store.actor(A, ("Customer", "userId", "u1"))["labels"] == {"tier": "gold"}
    add(store, A, ev("identify", "2026-11-28T10:00:01Z", None, {"tier": "3"}, userId="u1"))
    actor = store.actor(A, ("Customer", "userId", "u1"))
    assert (actor["labels"], actor["numbers"]) == ({}, {"tier": 3})
    add(store, A, ev("identify", "2026-11-28T10:00:02Z", {"tier": "platinum"}, userId="u1"))
    actor = store.actor(A, ("Customer", "userId", "u1"))
    assert (actor["labels"], actor["numbers"]) == ({"tier": "platinum"}, {})
    # An older identify arriving late changes nothing.
    add(store, A, ev("identify", "2026-11-28T09:00:00Z", None, {"tier": 1}, userId="u1"))
    actor = store.actor(A, ("Customer", "userId", "u1"))
    assert (actor["labels"], actor["numbers"]) == ({"tier": "platinum"}, {})


def test_the_actor_view_is_complete() -> None:
    store = Store()
    first = ev("Page Viewed", "2026-11-28T09:00:00Z", anonymousId="a1")
    link = ev("identify", "2026-11-28T11:00:00+01:00", {"plan": "pro"}, {"ltv": "80.77"},
              userId="u1", anonymousId="a1")
    add(store, A, first, link)

    actor = store.actor(A, ("Customer", "anonymousId", "a1"))
    links = actor.pop("links")
    assert actor == {
        "actorType": "Customer",
        "userId": "u1",
        "identifiers": {"anonymousId": ["a1"], "userId": ["u1"]},
        "identifierCounts": {"anonymousId": 1, "userId": 1},
        "labels": {"plan": "pro"},
        "numbers": {"ltv": 80.77},
        "eventCount": 2,
        "limit": 50,
        "offset": 0,
        "linkCount": 1,
        "events": [
            {"id": "evt_0000000001", "receivedAt": RECEIVED,
             "eventTime": "2026-11-28T09:00:00.000Z", "idempotencyKey": None, "event": first},
            {"id": "evt_0000000002", "receivedAt": RECEIVED,
             "eventTime": "2026-11-28T10:00:00.000Z", "idempotencyKey": None, "event": link},
        ],
    }
    assert len(links) == 1
    assert (links[0]["eventId"], links[0]["eventTime"]) == ("evt_0000000002",
                                                            "2026-11-28T10:00:00.000Z")
    assert sorted(links[0]["identifiers"], key=lambda i: i["name"]) == [
        {"name": "anonymousId", "value": "a1"}, {"name": "userId", "value": "u1"}]


def test_an_unknown_actor_is_not_found() -> None:
    store = Store()
    add(store, A, ev("identify", "2026-11-28T10:00:00Z", userId="u1"))
    with pytest.raises(ActorNotFound) as caught:
        store.actor(B, ("Customer", "userId", "u1"))  # another tenant's user
    assert caught.value.status == 404
    assert caught.value.body() == {"error": {
        "code": "actor_not_found",
        "message": "no actor of type 'Customer' has userId 'u1'",
        "details": {"actorType": "Customer", "userId": "u1"},
    }}


def test_conflicts_are_listed_and_counted() -> None:
    store = Store()
    add(store, A,
        ev("identify", "2026-11-28T10:00:00Z", userId="u_A", anonymousId="a1"),
        ev("identify", "2026-11-28T10:05:00Z", userId="u_B", anonymousId="a1"))
    assert store.conflicts(A) == [{
        "actorType": "Customer",
        "identifier": {"name": "anonymousId", "value": "a1"},
        "existingUserId": "u_A",
        "attemptedUserId": "u_B",
        "eventId": "evt_0000000002",
    }]
    assert store.actor(A, ("Customer", "userId", "u_B"))["identifiers"] == {"userId": ["u_B"]}
    assert store.conflicts(B) == []


def test_actors_are_listed_in_order_of_their_first_event() -> None:
    store = Store()
    add(store, A,
        ev("Page Viewed", "2026-11-28T10:00:00Z", anonymousId="a1"),
        ev("Page Viewed", "2026-11-28T10:00:00Z", userId="u2"),
        ev("identify", "2026-11-28T10:00:00Z", userId="u1", anonymousId="a1"),
        ev("Page Viewed", "2026-11-28T10:00:00Z", userId="u2"))
    assert store.actors(A, limit=10, offset=0) == (2, [
        {"actorType": "Customer", "userId": "u1",
         "identifiers": {"anonymousId": ["a1"], "userId": ["u1"]}, "eventCount": 2},
        {"actorType": "Customer", "userId": "u2", "identifiers": {"userId": ["u2"]},
         "eventCount": 2},
    ])
    assert store.actors(A, limit=1, offset=1)[1][0]["userId"] == "u2"


def test_stats_are_exact() -> None:
    store = Store()
    add(store, A,
        ev("Page Viewed", "2026-11-28T10:00:00Z", anonymousId="a1"),
        ev("identify", "2026-11-28T10:00:00Z", userId="u1", anonymousId="a1"),
        ev("Order Completed", "2026-11-28T10:00:00Z", userId="u1"),
        ev("Order Completed", "2026-11-28T10:00:00Z", userId="u2"),
        ev("identify", "2026-11-28T10:00:00Z", userId="u3", anonymousId="a1"))  # conflict
    add(store, A, ev("Page Viewed", "2026-11-28T10:00:00Z", anonymousId="a9"), key="k")
    replay = store.prepare(
        A, items(ev("Page Viewed", "2026-11-28T10:00:00Z", anonymousId="a9")), RECEIVED, "k")
    assert replay == Replay(evt(6))
    store.reject(A, rejection("bad"))
    store.reject(A, rejection("worse"))

    assert store.stats(A) == {
        "events": 6,
        "eventTypes": {"Order Completed": 2, "Page Viewed": 2, "identify": 2},
        "actors": 4,  # {u1, a1}, {u2}, {u3}, {a9}
        "stitchedActors": 1,
        "conflicts": 1,
        "rejected": 2,
        "idempotentReplays": 1,
        "duplicateIdempotencyKeys": 0,
    }
    assert list(store.stats(A)["eventTypes"]) == ["Order Completed", "Page Viewed", "identify"]
    assert store.stats(B) == EMPTY_STATS


# -- rejected requests -------------------------------------------------------------------------


def rejection(message: str) -> Rejected:
    return Rejected(at=RECEIVED, method="POST", path="/event", status=400,
                    code="invalid_payload", message=message,
                    violations=[{"path": "$.eventType", "message": message}], excerpt="{}")


def test_rejected_requests_are_kept_newest_first_in_a_bounded_buffer() -> None:
    store = Store(rejected_kept=3)
    for n in range(5):
        store.reject(A, rejection(f"m{n}"))
    store.reject(B, rejection("other tenant"))

    kept = store.rejected(A)
    assert [r["message"] for r in kept] == ["m4", "m3", "m2"]
    assert kept[0] == {"at": RECEIVED, "method": "POST", "path": "/event", "status": 400,
                       "code": "invalid_payload", "message": "m4",
                       "violations": [{"path": "$.eventType", "message": "m4"}],
                       "bodyExcerpt": "{}"}
    assert store.stats(A)["rejected"] == 5  # counted, even those no longer kept
    assert [r["message"] for r in store.rejected(B)] == ["other tenant"]


# -- tenants, reset and replay -----------------------------------------------------------------


def test_tenant_keys_are_digests_of_the_token() -> None:
    assert tenant_key("abc") == "ba7816bf8f01cfea414140de5dae2223"  # SHA-256 test vector
    assert tenant_key("abd") != tenant_key("abc")


def test_reset_empties_one_tenant_and_keeps_the_others() -> None:
    store = Store()
    event = ev("identify", "2026-11-28T10:00:00Z", {"plan": "pro"}, userId="u1", anonymousId="a1")
    add(store, A, event, key="k-1")
    add(store, B, event, key="k-1")
    store.reject(A, rejection("bad"))

    store.reset(A)
    assert store.events(A, EventQuery()) == (0, [])
    assert store.stats(A) == EMPTY_STATS
    assert store.rejected(A) == []
    with pytest.raises(ActorNotFound):
        store.actor(A, ("Customer", "userId", "u1"))
    # The key is forgotten with the data; ids keep counting, so none is ever reused.
    assert add(store, A, ev("Other", "2026-11-28T10:00:00Z", userId="u1"), key="k-1") == evt(2)

    assert ids(store, B) == evt(1)
    assert store.actor(B, ("Customer", "anonymousId", "a1"))["labels"] == {"plan": "pro"}
    assert store.prepare(B, items(event), RECEIVED, "k-1") == Replay(evt(1))


def test_replaying_the_journal_records_rebuilds_the_same_state() -> None:
    original = Store()
    entries: list[dict[str, Any]] = []

    def write(tenant: str, *events: dict[str, Any], key: str | None = None) -> None:
        prepared = prepare(original, tenant, *events, key=key)
        entries.append(prepared.entry())
        original.apply(prepared)

    write(A, ev("Page Viewed", "2026-11-28T09:00:00Z", anonymousId="a1"))
    write(A, ev("identify", "2026-11-28T10:00:00+01:00", {"plan": "pro"}, {"ltv": "80.77"},
                userId="u1", anonymousId="a1"), key="k-1")
    write(B, ev("Order Completed", "2026-11-28T10:00:00Z", userId="u1"),
          ev("Order Completed", "2026-11-28T10:01:00Z", userId="u1"))
    write(A, ev("identify", "2026-11-28T10:02:00Z", userId="u2", anonymousId="a1"))  # conflict
    original.reset(B)
    entries.append({"op": "reset", "t": B})
    write(B, ev("Page Viewed", "2026-11-28T11:00:00Z", anonymousId="b1"), key="k-1")

    rebuilt = Store()
    for entry in entries:
        rebuilt.replay(json.loads(json.dumps(entry)))  # as read back from the journal file

    for tenant in (A, B):
        assert rebuilt.events(tenant, EventQuery()) == original.events(tenant, EventQuery())
        assert rebuilt.stats(tenant) == original.stats(tenant)
        assert rebuilt.conflicts(tenant) == original.conflicts(tenant)
        assert rebuilt.actors(tenant, 100, 0) == original.actors(tenant, 100, 0)
    for node in (("Customer", "userId", "u1"), ("Customer", "userId", "u2")):
        assert rebuilt.actor(A, node) == original.actor(A, node)
    assert rebuilt.actor(B, ("Customer", "anonymousId", "b1")) == original.actor(
        B, ("Customer", "anonymousId", "b1"))
    assert ids(rebuilt, A) == evt(1, 2, 3)
    assert ids(rebuilt, B) == evt(3)  # B's ids keep counting across its reset
    assert rebuilt.actor(A, ("Customer", "userId", "u1"))["numbers"] == {"ltv": 80.77}

    # Idempotency keys survive the restart, and new ids continue after the last one.
    repeat = ev("identify", "2026-11-28T10:00:00+01:00", {"plan": "pro"}, {"ltv": "80.77"},
                userId="u1", anonymousId="a1")
    assert rebuilt.prepare(A, items(repeat), RECEIVED, "k-1") == Replay(evt(2))
    with pytest.raises(IdempotencyConflict):
        rebuilt.prepare(B, items(repeat), RECEIVED, "k-1")
    assert prepare(rebuilt, A, repeat).ids == evt(4)


def test_replaying_a_reset_of_the_last_writer_keeps_ids_moving() -> None:
    original = Store()
    first = prepare(original, A, ev("Page Viewed", "2026-11-28T09:00:00Z", anonymousId="a1"))
    rebuilt = Store()
    rebuilt.replay(first.entry())
    rebuilt.replay({"op": "reset", "t": A})
    assert rebuilt.events(A, EventQuery()) == (0, [])
    assert prepare(rebuilt, A, ev("Page Viewed", "2026-11-28T09:00:00Z",
                                  anonymousId="a1")).ids == evt(2)


# -- many documents ----------------------------------------------------------------------------


def test_a_batch_and_single_events_all_stay_readable() -> None:
    store = Store()
    SEGMENT_SIZE = 256  # a page of documents: reads across its boundaries
    moment = Normalized(datetime(2026, 11, 28, 10, tzinfo=UTC), {})
    total = 2 * SEGMENT_SIZE + 10

    def event(n: int) -> dict[str, Any]:
        return ev("Page Viewed", "2026-11-28T10:00:00Z", {"n": str(n)}, anonymousId=f"a{n}")

    # A batch, then single events.
    many: list[tuple[Mapping[str, Any], Normalized]] = [
        (event(n), moment) for n in range(1, 301)]
    batch = store.prepare(A, many, RECEIVED)
    assert isinstance(batch, Prepared)
    store.apply(batch)
    for n in range(301, total + 1):
        single = store.prepare(A, [(event(n), moment)], RECEIVED)
        assert isinstance(single, Prepared)
        store.apply(single)

    assert sorted(store.tenant(A).texts) == list(range(1, total + 1))

    count, docs = store.events(A, EventQuery(limit=total + 1))
    assert count == total
    assert [doc["id"] for doc in docs] == evt(*range(1, total + 1))
    assert [doc["event"]["labels"]["n"] for doc in docs] == [str(n) for n in range(1, total + 1)]
    # Reading across the boundaries, from the end and by actor.
    _, around = store.events(A, EventQuery(offset=SEGMENT_SIZE - 1, limit=2))
    assert [doc["id"] for doc in around] == evt(SEGMENT_SIZE, SEGMENT_SIZE + 1)
    _, last = store.events(A, EventQuery(newest_first=True, limit=1))
    assert last[0]["event"] == event(total)
    assert store.actor(A, ("Customer", "anonymousId", "a257"))["events"][0]["event"] == event(257)
    assert store.tenant(B).texts == {}
