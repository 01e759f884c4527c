"""The snapshot normal form and the event-level diff (mockserver/review), on hand-written events;
every expected output is written by hand."""

from __future__ import annotations

from typing import Any

import pytest

from mockserver.review import Snapshot, diff, normalise, parse_snapshot
from mockserver.review.render import render


def _event(event_type: str, time: str, labels: dict[str, str] | None = None,
           numbers: dict[str, float] | None = None, **actor: str) -> dict[str, Any]:
    return {"eventSource": "Segment", "eventType": event_type, "eventTime": time,
            "actors": {"Customer": actor}, "labels": labels or {}, "numbers": numbers or {}}


def _stored(seq: int, event: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"evt_{seq:010d}", "receivedAt": f"2026-12-0{seq}T00:00:00.000Z",
            "eventTime": event["eventTime"], "idempotencyKey": f"m-{seq}", "event": event}


A = [
    _event("Page Viewed", "2026-11-28T09:00:00.000Z", anonymousId="a_9"),
    _event("identify", "2026-11-28T10:00:00.000Z", {"plan": "pro"}, {"ltv": 42.5},
           userId="u_1", anonymousId="a_9"),
    _event("Order Completed", "2026-11-28T11:00:00.000Z", {"campaign.source": "news"},
           {"revenue": 10}, userId="u_1"),
    _event("Order Completed", "2026-11-28T12:00:00.000Z", userId="u_2"),
]


def test_a_snapshot_leaves_volatile_values_out_and_sorts_keys_and_events() -> None:
    stored = [_stored(2, A[1]), _stored(1, A[0])]  # stored out of event-time order
    assert normalise(stored).text == (
        '{"actors":{"Customer":{"anonymousId":"a_9"}},"eventSource":"Segment",'
        '"eventTime":"2026-11-28T09:00:00.000Z","eventType":"Page Viewed","labels":{},'
        '"numbers":{}}\n'
        '{"actors":{"Customer":{"anonymousId":"a_9","userId":"u_1"}},"eventSource":"Segment",'
        '"eventTime":"2026-11-28T10:00:00.000Z","eventType":"identify","labels":{"plan":"pro"},'
        '"numbers":{"ltv":42.5}}\n')
    assert normalise(stored, event_times=False).lines[0] == (
        '{"actors":{"Customer":{"anonymousId":"a_9"}},"eventSource":"Segment",'
        '"eventType":"Page Viewed","labels":{},"numbers":{}}')


def test_a_snapshot_equals_its_text_and_its_repr_parses_back() -> None:
    snapshot = normalise(A)
    assert snapshot == snapshot.text
    assert parse_snapshot(repr(snapshot)) == snapshot
    assert parse_snapshot("  " + repr(snapshot).replace("\n", "\n  ")) == snapshot
    assert snapshot != normalise(A[:3])
    with pytest.raises(ValueError, match=r"^line 1 is not an event"):
        parse_snapshot("[1]\n")


def test_the_same_snapshot_gives_an_empty_diff() -> None:
    result = diff(normalise(A), normalise(A))
    assert result.empty
    assert render(result) == "no difference: the same 4 events\n"


def test_changed_added_and_removed_events_per_actor() -> None:
    b = [
        _event("Page Viewed", "2026-11-28T09:00:00.000Z", anonymousId="a_9"),
        _event("Viewed Home Page", "2026-11-28T09:00:00.000Z", anonymousId="a_9"),
        _event("identify", "2026-11-28T10:00:00.000Z", {"plan": "free"}, {"ltv": 42.5},
               userId="u_1", anonymousId="a_9"),
        _event("Order Completed", "2026-11-28T11:00:00.000Z", {"campaign.source": "ads"},
               {}, userId="u_1"),
    ]
    result = diff(normalise(A), normalise(b))
    assert render(result) == (
        "Customer userId=u_1\n"
        "  + #2 Viewed Home Page at 2026-11-28T09:00:00.000Z\n"
        "  ~ #2 → #3 identify at 2026-11-28T10:00:00.000Z\n"
        '      label plan: "pro" → "free"\n'
        "  ~ #3 → #4 Order Completed at 2026-11-28T11:00:00.000Z\n"
        '      label campaign.source: "news" → "ads"\n'
        "      number revenue: 10 → (absent)\n"
        "Customer userId=u_2\n"
        "  - #4 Order Completed at 2026-11-28T12:00:00.000Z\n"
        "1 added, 1 removed, 2 changed in 2 actors; 1 unchanged (A: 4 events, B: 4)\n")
    assert render(result, "markdown") == (
        "**Pointillist events**: 1 added, 1 removed, 2 changed in 2 actors; 1 unchanged "
        "(A: 4 events, B: 4)\n"
        "\n"
        "#### Customer userId=u_1\n"
        "- changed #2 → #3 `identify` at 2026-11-28T10:00:00.000Z\n"
        '  - label plan: `"pro"` → `"free"`\n'
        "- changed #3 → #4 `Order Completed` at 2026-11-28T11:00:00.000Z\n"
        '  - label campaign.source: `"news"` → `"ads"`\n'
        "  - number revenue: `10` → `(absent)`\n"
        "- added #2 `Viewed Home Page` at 2026-11-28T09:00:00.000Z\n"
        "\n"
        "#### Customer userId=u_2\n"
        "- removed #4 `Order Completed` at 2026-11-28T12:00:00.000Z\n")
    assert result.summary() == {"actors": 2, "added": 1, "removed": 1, "changed": 2,
                                "unchanged": 1, "eventsA": 4, "eventsB": 4}


def test_an_anonymous_id_claimed_by_a_second_user_does_not_merge_two_actors() -> None:
    a = [_event("identify", "2026-11-28T10:00:00.000Z", userId="u_1", anonymousId="a_9"),
         _event("Order Completed", "2026-11-28T11:00:00.000Z", userId="u_2", anonymousId="a_9")]
    b = [a[0], _event("Order Completed", "2026-11-28T11:00:00.000Z", {"x": "1"},
                      userId="u_2", anonymousId="a_9")]
    result = diff(Snapshot(a), Snapshot(b))
    assert [actor.actor for actor in result.actors] == ["Customer userId=u_2"]
    assert result.as_json()["actors"][0]["changed"][0]["changes"] == [
        {"field": "labels", "key": "x", "before": None, "after": "1"}]
