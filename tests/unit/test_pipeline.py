"""connector.pipeline, the pure steps: reading JSONL lines and planning deliveries."""

from __future__ import annotations

from collections import Counter
from typing import Any

from connector import MappingSettings
from connector.client import DeliveryResult
from connector.pipeline import (
    MessageFailure,
    Summary,
    Unreadable,
    numbered,
    plan,
    read_jsonl,
)

T = "2026-03-01T10:00:00.000Z"


def track(event: str | None = "Product Viewed", **fields: Any) -> dict[str, Any]:
    message = {"type": "track", "event": event, "timestamp": T, **fields}
    return {k: v for k, v in message.items() if v is not None}


def identify(user_id: str, anonymous_id: str, **fields: Any) -> dict[str, Any]:
    return {"type": "identify", "userId": user_id, "anonymousId": anonymous_id,
            "timestamp": T, **fields}


def test_read_jsonl_numbers_lines_and_never_raises() -> None:
    lines = [
        b'{"type": "track"}\n',
        b"\n",
        b"   \r\n",
        b"not json\n",
        b'{"a": NaN}\n',
        b"\xff\xfe\n",
        "[1, 2]\n",
        b"[" * 100_000 + b"\n",
        b'{"a": 1} {"b": 2}\n',
        b'"text"',
    ]
    assert list(read_jsonl(lines)) == [
        (1, {"type": "track"}),
        (4, Unreadable("Expecting value: line 1 column 1 (char 0)")),
        (5, Unreadable("NaN is not JSON")),
        (6, Unreadable("not UTF-8: invalid start byte at byte 0")),
        (7, [1, 2]),
        (8, Unreadable("nested too deeply")),
        (9, Unreadable("Extra data: line 1 column 10 (char 9)")),
        (10, "text"),
    ]


def test_plan_keeps_each_stitched_actor_on_one_ordering_key() -> None:
    messages = [
        track(anonymousId="a1", messageId="m1"),  # before a1 is linked to u1
        {"type": "page", "anonymousId": "a1", "timestamp": T, "messageId": "m2"},
        identify("u1", "a1", messageId="m3"),
        track(userId="u1", messageId=42),
        track(anonymousId="a2"),  # a new device, linked to u1 by the identify below
        identify("u1", "a2", messageId="m6"),
        track(anonymousId="a3", messageId="m7"),  # a visitor who never identifies
        track(userId="u2", messageId="m8"),
        track(None, userId="u2", messageId="m9"),  # no event name: a mapping failure
        "not an object",
        {"type": "alias", "userId": "u2", "previousId": "a3", "timestamp": T},
        track(userId="u2", messageId="m12", integrations={"Pointillist": False}),
    ]
    planned = plan(numbered(messages))
    assert planned.read == 12
    keys = [d.ordering_key for d in planned.deliveries]
    u1, a3, u2 = keys[0], keys[5], keys[6]
    assert len({u1, a3, u2}) == 3
    assert [(line, d.ordering_key, d.idempotency_key, d.event["eventType"])
            for line, d in zip(planned.lines, planned.deliveries, strict=True)] == [
        (1, u1, "m1", "Product Viewed"),
        (3, u1, "m3", "identify"),
        (4, u1, "42", "Product Viewed"),
        (5, u1, None, "Product Viewed"),  # a2, before the identify that links it to u1
        (6, u1, "m6", "identify"),
        (7, a3, "m7", "Product Viewed"),
        (8, u2, "m8", "Product Viewed"),
    ]
    assert planned.deliveries[0].event["actors"] == {"Customer": {"anonymousId": "a1"}}
    assert planned.skipped == Counter(
        {"unsupported_message_type": 2, "disabled_in_integrations": 1})
    assert planned.failures == [
        MessageFailure(9, "mapping", "missing_field", "event",
                       "a track needs a non-empty event name", "m9"),
        MessageFailure(10, "mapping", "invalid_type", "message",
                       "a Segment message must be a JSON object", None),
    ]


def test_plan_without_a_user_keys_by_the_visitor() -> None:
    planned = plan(numbered([track(anonymousId="a9"), track(anonymousId="a9")]))
    assert [d.ordering_key for d in planned.deliveries] == ["Customer/anonymousId:a9"] * 2


def test_plan_honours_the_mapping_settings() -> None:
    page = {"type": "page", "name": "Home", "anonymousId": "a1", "timestamp": T}
    settings = MappingSettings(actor_type="Account", map_page_screen=True)
    planned = plan(numbered([page]), settings)
    (delivery,) = planned.deliveries
    assert delivery.event["eventType"] == "Viewed Home Page"
    assert delivery.event["actors"] == {"Account": {"anonymousId": "a1"}}
    assert planned.skipped == Counter()


def test_plan_reports_unreadable_lines_as_invalid_json() -> None:
    planned = plan(read_jsonl([b"{oops\n", b'{"type": "group"}\n']))
    assert planned.failures == [MessageFailure(
        1, "read", "invalid_json", None,
        "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)")]
    assert planned.read == 2
    # a group without identifiers or timestamp is still just skipped: skips come first
    assert planned.skipped == Counter({"unsupported_message_type": 1})


def test_summary_counts_by_reason() -> None:
    result = DeliveryResult(sent=5, duplicates=1, attempts=7, retries=2)
    result.skip("unsupported_message_type", 4)
    result.skip("disabled_in_integrations")
    failures = [
        MessageFailure(2, "read", "invalid_json", None, "Expecting value"),
        MessageFailure(3, "mapping", "missing_field", "event", "no name"),
        MessageFailure(8, "mapping", "missing_field", "timestamp", "no time"),
        MessageFailure(9, "delivery", "invalid_payload", None, "too long", "m9"),
    ]
    summary = Summary(14, result, failures)
    assert summary.ok is False
    assert summary.as_dict() == {
        "read": 14, "sent": 5, "duplicates": 1,
        "skipped": {"disabled_in_integrations": 1, "unsupported_message_type": 4},
        "failed": {"invalid_json": 1, "invalid_payload": 1, "missing_field": 2},
        "attempts": 7, "retries": 2, "labelsLeftOut": 0,
    }
    assert [failure.describe() for failure in failures] == [
        "line 2: invalid_json: Expecting value",
        "line 3: missing_field (event): no name",
        "line 8: missing_field (timestamp): no time",
        "line 9: invalid_payload: too long",
    ]
    assert Summary(1, DeliveryResult(sent=1), []).ok is True
