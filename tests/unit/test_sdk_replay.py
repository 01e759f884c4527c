from datetime import UTC, datetime

import pytest

from connector.traffic.sdk_replay import call_for, replay

WHEN = "2026-01-05T10:00:00.250+00:00"
MOMENT = datetime(2026, 1, 5, 10, 0, 0, 250000, tzinfo=UTC)


def test_each_message_type_becomes_the_sdk_call_that_sends_it() -> None:
    assert call_for({"type": "track", "userId": None, "anonymousId": "a1", "event": "Viewed",
                     "properties": {"n": 1}, "context": {"ip": "1.2.3.4"}, "integrations": {},
                     "messageId": "m1", "timestamp": WHEN, "_metadata": {}}) == (
        "track", {"anonymous_id": "a1", "event": "Viewed", "properties": {"n": 1},
                  "context": {"ip": "1.2.3.4"}, "integrations": {}, "message_id": "m1",
                  "timestamp": MOMENT})
    assert call_for({"type": "identify", "userId": "u1", "traits": {"plan": "pro"},
                     "originalTimestamp": WHEN}) == (
        "identify", {"user_id": "u1", "traits": {"plan": "pro"}, "timestamp": MOMENT})
    assert call_for({"type": "page", "anonymousId": "a1", "name": "Home", "category": None}) == (
        "page", {"anonymous_id": "a1", "name": "Home"})
    assert call_for({"type": "group", "userId": "u1", "groupId": "g1", "traits": {}}) == (
        "group", {"user_id": "u1", "group_id": "g1", "traits": {}})
    assert call_for({"type": "alias", "userId": "u1", "previousId": "a1"}) == (
        "alias", {"user_id": "u1", "previous_id": "a1"})
    assert call_for({"type": "screen", "userId": "u1", "name": "Cart"}) == (
        "screen", {"user_id": "u1", "name": "Cart"})


def test_an_unknown_type_cannot_be_sent() -> None:
    with pytest.raises(ValueError, match="no SDK call sends a message of type 'purchase'"):
        call_for({"type": "purchase"})


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, object]]] = []

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return lambda **kwargs: self.calls.append((name, kwargs))


def test_replay_enqueues_in_order() -> None:
    client = Recorder()
    count = replay([{"type": "identify", "userId": "u1"}, {"type": "track", "userId": "u1",
                                                           "event": "E"}], client)
    assert count == 2
    assert client.calls == [("identify", {"user_id": "u1"}),
                            ("track", {"user_id": "u1", "event": "E"})]
