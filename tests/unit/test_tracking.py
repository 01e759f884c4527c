"""connector.gateway.request_body and .tracking: reading Segment HTTP API bodies, batch merge,
enrichment, drop rules.

Pure functions with a pinned clock and a counting id factory, so every value is exact."""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from connector.gateway.request_body import decode_json, inflate
from connector.gateway.tracking import (
    Accepted,
    Dropped,
    InvalidRequest,
    TrackingLimits,
    TrackingRequest,
    WriteKeyRefused,
    authorize,
    corrected_timestamp,
    merge,
    message_size,
    parse_request,
    prepare,
    write_key_candidates,
)

NOW = datetime(2026, 11, 28, 10, 0, 0, 123456, tzinfo=UTC)
RECEIVED = "2026-11-28T10:00:00.123Z"
LIMITS = TrackingLimits()
LIBRARY = {"name": "analytics-python", "version": "2.4.0"}


def ids() -> Callable[[], str]:
    count = 0

    def new_id() -> str:
        nonlocal count
        count += 1
        return f"gen-{count}"

    return new_id


def batch(*items: Any, **top: Any) -> TrackingRequest:
    return parse_request("batch", {"batch": list(items), **top}, LIMITS)


def one(route: str, message: dict[str, Any]) -> list[Accepted | Dropped]:
    return prepare(parse_request(route, message, LIMITS), NOW, ids())


def padded(size: int) -> dict[str, Any]:
    """A message of exactly `size` bytes as compact JSON."""
    base: dict[str, Any] = {"type": "track", "event": "E", "userId": "u", "properties": {"p": ""}}
    base["properties"]["p"] = "x" * (size - message_size(base))
    assert message_size(base) == size
    return base


# -- reading the body ------------------------------------------------------------------------


def test_inflate_passes_plain_bodies_and_inflates_gzip_and_both_deflate_forms() -> None:
    body = b'{"batch": []}'
    raw_deflate = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw = raw_deflate.compress(body) + raw_deflate.flush()
    assert inflate(body, "", 100) == body
    assert inflate(body, "identity", 100) == body
    assert inflate(gzip.compress(body), "gzip", 100) == body
    assert inflate(gzip.compress(body), " X-Gzip ", 100) == body
    assert inflate(zlib.compress(body), "deflate", 100) == body
    assert inflate(raw, "deflate", 100) == body


def test_the_size_limit_applies_to_the_inflated_body_at_the_exact_byte() -> None:
    body = b"x" * 100
    assert inflate(body, "", 100) == body
    assert inflate(gzip.compress(body), "gzip", 100) == body
    for data, encoding in ((b"x" * 101, ""), (gzip.compress(b"x" * 101), "gzip")):
        with pytest.raises(InvalidRequest) as caught:
            inflate(data, encoding, 100)
        assert caught.value.segment_body() == {
            "code": "invalid_request",
            "message": "the request body is over the limit of 100 bytes",
        }
        assert caught.value.status == 400


@pytest.mark.parametrize(("data", "encoding", "message"), [
    pytest.param(b"not gzip", "gzip", "the body is not valid gzip data (Error -3 while "
                 "decompressing data: incorrect header check)", id="not-gzip"),
    pytest.param(gzip.compress(b'{"batch": []}', mtime=0)[:-9], "gzip",
                 "the gzip body is truncated", id="truncated"),
    pytest.param(gzip.compress(b"{}", mtime=0) + b"junk", "gzip",
                 "the gzip body has 4 bytes after its end", id="trailing-bytes"),
    pytest.param(b"{}", "br", "Content-Encoding 'br' is not supported; send gzip or no "
                 "encoding", id="brotli"),
])
def test_unreadable_encodings_are_a_400(data: bytes, encoding: str, message: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        inflate(data, encoding, 1000)
    assert caught.value.message == message


def test_decode_json_takes_json_and_refuses_the_rest_with_invalid_json() -> None:
    assert decode_json(b' {"batch": [1.5, null]} ') == {"batch": [1.5, None]}
    cases = {
        b"": "Invalid JSON: the body is empty",
        b"  \n": "Invalid JSON: the body is empty",
        b"{nope": "Invalid JSON: Expecting property name enclosed in double quotes: "
                  "line 1 column 2 (char 1)",
        b'{"a": NaN}': "Invalid JSON: NaN is not JSON",
        b'{"a": "\xff"}': "Invalid JSON: the body is not UTF-8",
        b"[" * 100_000: "Invalid JSON: nested too deeply",
    }
    for body, message in cases.items():
        with pytest.raises(InvalidRequest) as caught:
            decode_json(body)
        assert caught.value.message == message


# -- write keys -------------------------------------------------------------------------------


def basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


def test_write_keys_come_from_basic_auth_a_bearer_token_and_the_body_in_that_order() -> None:
    assert basic("WK123:") == "Basic V0sxMjM6"  # the value the official clients send
    assert write_key_candidates(basic("WK123:"), {"writeKey": "WK123"}) == ["WK123", "WK123"]
    assert write_key_candidates(basic("OLD"), {}) == ["OLD"]  # no colon: still tolerated
    assert write_key_candidates("Bearer tok-1", {"writeKey": "WK"}) == ["tok-1", "WK"]
    assert write_key_candidates("bearer  tok-2 ", None) == ["tok-2"]
    assert write_key_candidates(None, {"writeKey": "WK"}) == ["WK"]
    assert write_key_candidates("Basic !!!", {"writeKey": ""}) == []
    assert write_key_candidates(basic(":"), [{"writeKey": "WK"}]) == []
    assert write_key_candidates("Digest abc", {"writeKey": 5}) == []


def test_any_key_or_none_passes_without_configured_keys_and_only_known_ones_with() -> None:
    authorize([], frozenset())
    authorize(["whatever"], frozenset())
    authorize(["bad", "WK2"], frozenset({"WK1", "WK2"}))
    with pytest.raises(WriteKeyRefused) as missing:
        authorize([], frozenset({"WK1"}))
    with pytest.raises(WriteKeyRefused) as unknown:
        authorize(["WK9"], frozenset({"WK1"}))
    assert missing.value.status == unknown.value.status == 401
    assert missing.value.segment_body() == {
        "code": "unauthorized",
        "message": "missing write key: send Authorization: Basic base64('<writeKey>:'), a "
                   "Bearer token, or writeKey in the body",
    }
    assert unknown.value.segment_body() == {
        "code": "unauthorized",
        "message": "unknown write key: this gateway accepts only its configured keys",
    }


# -- request shape and limits -----------------------------------------------------------------


def test_a_single_call_route_is_one_message_of_that_type() -> None:
    request = parse_request("track", {"event": "E", "userId": "u"}, LIMITS)
    assert request == TrackingRequest(route_type="track", items=[{"event": "E", "userId": "u"}])


def test_a_batch_keeps_its_items_and_its_shared_fields() -> None:
    request = parse_request("import", {
        "batch": [{"type": "track"}, 5], "context": {"ip": "1.2.3.4"},
        "integrations": {"All": False}, "sentAt": "2026-11-28T10:00:00Z", "writeKey": "WK",
    }, LIMITS)
    assert request == TrackingRequest(
        route_type=None, items=[{"type": "track"}, 5], context={"ip": "1.2.3.4"},
        integrations={"All": False}, sent_at="2026-11-28T10:00:00Z", too_many=False,
    )
    odd = parse_request("batch", {"batch": [], "context": "x", "integrations": [1]}, LIMITS)
    assert (odd.context, odd.integrations) == (None, None)  # not objects: nothing to merge


@pytest.mark.parametrize(("route", "body", "message"), [
    ("batch", [], "Invalid JSON: the body must be a JSON object"),
    ("track", "track", "Invalid JSON: the body must be a JSON object"),
    ("batch", {}, 'Invalid JSON: a batch body is {"batch": [message, ...]}'),
    ("import", {"batch": {"type": "track"}}, 'Invalid JSON: a batch body is {"batch": '
                                             '[message, ...]}'),
])
def test_bodies_of_the_wrong_shape_are_a_400(route: str, body: Any, message: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_request(route, body, LIMITS)
    assert caught.value.message == message


def test_a_batch_message_of_32_kb_passes_and_one_byte_more_is_a_400() -> None:
    assert parse_request("batch", {"batch": [padded(32 * 1024)]}, LIMITS).items[0]["event"] == "E"
    with pytest.raises(InvalidRequest) as caught:
        parse_request("batch", {"batch": [{}, padded(32 * 1024 + 1)]}, LIMITS)
    assert caught.value.message == (
        "message 1 of the batch is 32769 bytes; the limit is 32768 bytes per message")


def test_the_message_size_is_compact_utf8_json() -> None:
    assert message_size({"a": [1, "é"]}) == len('{"a":[1,"é"]}'.encode())  # 14 bytes
    assert message_size({"a": [1, "é"]}) == 14


def test_2500_messages_are_a_batch_and_2501_are_too_many() -> None:
    message = {"type": "track", "event": "E", "userId": "u"}
    assert batch(*[message] * 2500).too_many is False
    assert batch(*[message] * 2501).too_many is True


# -- enrichment --------------------------------------------------------------------------------


def test_a_python_client_batch_is_enriched_as_segments_servers_do() -> None:
    identify = {
        "integrations": {}, "anonymousId": None, "timestamp": "2026-11-28T08:46:50.086+00:00",
        "context": {"library": LIBRARY}, "type": "identify", "userId": "u1",
        "traits": {"email": "a@b.c"}, "messageId": "64436b6b-6d19-478a-b100-ebb77c4158d2",
    }
    request = batch(identify, sentAt="2026-11-28T08:46:50.586527+00:00", writeKey="WK123")

    entries = prepare(request, NOW, ids())

    assert entries == [Accepted("64436b6b-6d19-478a-b100-ebb77c4158d2", {
        **identify,
        "receivedAt": RECEIVED,
        "sentAt": "2026-11-28T08:46:50.586527+00:00",
        "originalTimestamp": "2026-11-28T08:46:50.086+00:00",
        # receivedAt - (sentAt - originalTimestamp) = 10:00:00.123 - 0.500 s
        "timestamp": "2026-11-28T09:59:59.623Z",
    })]
    assert identify["timestamp"] == "2026-11-28T08:46:50.086+00:00"  # the input is not changed


def test_the_clock_skew_formula_reproduces_the_specs_own_example() -> None:
    received = datetime(2015, 12, 10, 4, 8, 31, 909000, tzinfo=UTC)
    assert corrected_timestamp(
        received, "2015-12-10T04:08:31.581Z", "2015-12-10T04:08:31.577Z"
    ) == "2015-12-10T04:08:31.905Z"
    # Offsets are honoured and each value is truncated to the millisecond first.
    assert corrected_timestamp(
        received, "2015-12-10T06:08:31.581999+02:00", "2015-12-10T04:08:30.000999Z"
    ) == "2015-12-10T04:08:30.328Z"
    # A client clock an hour ahead: the skew is removed.
    assert corrected_timestamp(
        received, "2015-12-10T05:08:31.909Z", "2015-12-10T05:08:01.909Z"
    ) == "2015-12-10T04:08:01.909Z"
    assert corrected_timestamp(received, None, "2015-12-10T04:08:31.577Z") is None
    assert corrected_timestamp(received, "yesterday", "2015-12-10T04:08:31.577Z") is None
    assert corrected_timestamp(received, "2015-12-10T04:08:31.581Z", 12) is None
    assert corrected_timestamp(
        received, "9999-12-31T23:59:59.000Z", "0001-01-01T00:00:00.000Z") is None  # overflow


def test_timestamps_without_a_usable_sent_at_or_client_time() -> None:
    def enriched(**fields: Any) -> dict[str, Any]:
        entry = one("track", {"event": "E", "userId": "u", "messageId": "m", **fields})[0]
        assert isinstance(entry, Accepted)
        return {k: entry.message.get(k) for k in ("timestamp", "originalTimestamp", "sentAt")}

    # No sentAt (null, as Engage sends it): the client's time is kept as it is.
    assert enriched(timestamp="2024-05-03T19:42:50.066179717Z", sentAt=None) == {
        "timestamp": "2024-05-03T19:42:50.066179717Z",
        "originalTimestamp": "2024-05-03T19:42:50.066179717Z", "sentAt": None}
    # No time at all: the server's.
    assert enriched() == {"timestamp": RECEIVED, "originalTimestamp": None, "sentAt": None}
    # Only an originalTimestamp (a message replayed from Segment): it is the client's time.
    assert enriched(originalTimestamp="2026-11-28T09:00:00.000Z",
                    sentAt="2026-11-28T09:00:01.000Z") == {
        "timestamp": "2026-11-28T09:59:59.123Z",
        "originalTimestamp": "2026-11-28T09:00:00.000Z", "sentAt": "2026-11-28T09:00:01.000Z"}
    # An unreadable client time is passed on unchanged (the mapping dead-letters it).
    assert enriched(timestamp="soon", sentAt="2026-11-28T09:00:01.000Z") == {
        "timestamp": "soon", "originalTimestamp": "soon", "sentAt": "2026-11-28T09:00:01.000Z"}


def test_a_messages_own_sent_at_wins_over_the_batchs() -> None:
    request = batch(
        {"type": "track", "event": "E", "userId": "u", "messageId": "own",
         "timestamp": "2026-11-28T09:00:00.000Z", "sentAt": "2026-11-28T09:00:02.000Z"},
        {"type": "track", "event": "E", "userId": "u", "messageId": "shared",
         "timestamp": "2026-11-28T09:00:00.000Z"},
        sentAt="2026-11-28T09:00:05.000Z",
    )
    entries = prepare(request, NOW, ids())
    assert [(e.message["sentAt"], e.message["timestamp"]) for e in entries] == [
        ("2026-11-28T09:00:02.000Z", "2026-11-28T09:59:58.123Z"),
        ("2026-11-28T09:00:05.000Z", "2026-11-28T09:59:55.123Z"),
    ]


def test_message_ids_are_kept_stringified_or_generated() -> None:
    request = batch(*[
        {"type": "track", "event": "E", "userId": "u", **extra}
        for extra in ({"messageId": "keep"}, {"messageId": 42}, {}, {"messageId": None},
                      {"messageId": "  "}, {"messageId": True}, {"messageId": 1.5})
    ])
    entries = prepare(request, NOW, ids())
    assert [e.message_id for e in entries] == [
        "keep", "42", "gen-1", "gen-2", "gen-3", "gen-4", "gen-5"]
    assert [e.message["messageId"] for e in entries] == [e.message_id for e in entries]


def test_batch_context_and_integrations_merge_into_every_message_which_wins() -> None:
    shared_context = {"ip": "1.2.3.4", "library": {"name": "batch", "version": "1"},
                      "location": {"city": "Paris", "country": "France"}}
    request = batch(
        {"type": "track", "event": "A", "userId": "u", "messageId": "a",
         "context": {"library": {"name": "own"}, "location": {"city": "Lyon"}},
         "integrations": {"Pointillist": True}},
        {"type": "track", "event": "B", "userId": "u", "messageId": "b", "context": None},
        {"type": "track", "event": "C", "userId": "u", "messageId": "c", "context": "odd"},
        context=shared_context, integrations={"All": False, "Mixpanel": True},
    )
    messages = [entry.message for entry in prepare(request, NOW, ids())]
    assert [(m["context"], m["integrations"]) for m in messages] == [
        ({"ip": "1.2.3.4", "library": {"name": "own", "version": "1"},
          "location": {"city": "Lyon", "country": "France"}},
         {"All": False, "Mixpanel": True, "Pointillist": True}),
        (shared_context, {"All": False, "Mixpanel": True}),
        ("odd", {"All": False, "Mixpanel": True}),  # not an object: left for the mapping
    ]
    assert shared_context["library"] == {"name": "batch", "version": "1"}  # not mutated


def test_merge_is_deep_and_the_message_wins() -> None:
    assert merge({"a": {"b": 1, "c": {"d": 2}}, "x": 1}, {"a": {"c": {"e": 3}}, "x": None}) == {
        "a": {"b": 1, "c": {"d": 2, "e": 3}}, "x": None}


def test_single_calls_take_the_routes_type_and_lose_their_write_key() -> None:
    entry = one("identify", {"type": "track", "userId": "u", "messageId": "m",
                             "writeKey": "secret", "traits": {"plan": "pro"}})[0]
    assert entry == Accepted("m", {
        "type": "identify", "userId": "u", "messageId": "m", "traits": {"plan": "pro"},
        "receivedAt": RECEIVED, "timestamp": RECEIVED})


# -- dropped ------------------------------------------------------------------------------------


def test_what_segment_accepts_and_then_drops_comes_back_as_dropped_with_the_reason() -> None:
    items: list[Any] = [
        {"type": "identify", "userId": "u", "messageId": "ok-1"},
        {"type": "track", "event": "E", "anonymousId": 7, "messageId": "ok-2"},
        {"type": "alias", "previousId": "a", "userId": "u", "messageId": "ok-3"},
        {"type": "group", "groupId": 12, "userId": "u", "messageId": "ok-4"},
        ["not", "an", "object"],
        None,
        {"event": "E", "userId": "u", "messageId": "d-1"},
        {"type": "Track", "event": "E", "userId": "u", "messageId": "d-2"},
        {"type": "track", "event": "E", "userId": None, "anonymousId": " ", "messageId": "d-3"},
        {"type": "page", "userId": True, "anonymousId": {"id": 1}, "messageId": "d-4"},
        {"type": "track", "userId": "u", "messageId": "d-5"},
        {"type": "track", "event": "", "userId": "u", "messageId": "d-6"},
        {"type": "track", "event": 42, "userId": "u", "messageId": "d-7"},
        {"type": "group", "userId": "u", "messageId": "d-8"},
        {"type": "alias", "userId": "u", "messageId": "d-9"},
        {"type": "alias", "previousId": "a", "messageId": "d-10"},
        {"type": "track", "event": "E", "userId": "u", "messageId": "m" * 100},
        {"type": "track", "event": "E", "userId": "u", "messageId": "m" * 101},
    ]
    entries = prepare(batch(*items), NOW, ids())

    summary = [(type(e).__name__, e.message_id, getattr(e, "reason", None)) for e in entries]
    assert summary == [
        ("Accepted", "ok-1", None),
        ("Accepted", "ok-2", None),
        ("Accepted", "ok-3", None),
        ("Accepted", "ok-4", None),
        ("Dropped", None, "not_an_object"),
        ("Dropped", None, "not_an_object"),
        ("Dropped", "d-1", "invalid_type"),
        ("Dropped", "d-2", "invalid_type"),
        ("Dropped", "d-3", "no_user_anon_id"),
        ("Dropped", "d-4", "no_user_anon_id"),
        ("Dropped", "d-5", "missing_event"),
        ("Dropped", "d-6", "missing_event"),
        ("Dropped", "d-7", "missing_event"),
        ("Dropped", "d-8", "missing_group_id"),
        ("Dropped", "d-9", "missing_previous_id"),
        ("Dropped", "d-10", "no_user_anon_id"),
        ("Accepted", "m" * 100, None),
        ("Dropped", None, "message_id_too_long"),  # no id to dedup on
    ]
    assert entries[4] == Dropped("not_an_object", None, ["not", "an", "object"],
                                 "a batch item is a list")
    assert entries[5] == Dropped("not_an_object", None, None, "a batch item is a null")
    dropped = entries[8]
    assert isinstance(dropped, Dropped)
    assert dropped.detail == "a message needs a userId or an anonymousId"
    assert dropped.message["receivedAt"] == RECEIVED  # dropped messages are enriched too
    last = entries[-1]
    assert isinstance(last, Dropped)
    assert last.detail == "messageId is 101 characters; the limit is 100"


def test_every_message_of_a_batch_over_2500_is_dropped() -> None:
    items = [{"type": "track", "event": "E", "userId": "u", "messageId": f"m-{n}"}
             for n in range(2501)]
    items[3] = {"type": "track", "userId": "u", "messageId": "m-3"}
    entries = prepare(batch(*items), NOW, ids())
    assert len(entries) == 2501
    assert all(isinstance(e, Dropped) for e in entries)
    reasons = [e.reason for e in entries if isinstance(e, Dropped)]
    assert reasons.count("too_many_messages") == 2500
    assert reasons[3] == "missing_event"  # its own reason comes first
    first = entries[0]
    assert isinstance(first, Dropped)
    assert (first.message_id, first.detail) == (
        "m-0", "the batch has 2501 messages; the limit is 2500")


def test_the_reference_python_body_round_trips_through_gzip_and_json() -> None:
    body = {"batch": [{"type": "track", "event": "E", "userId": "u"}], "writeKey": "WK"}
    wire = gzip.compress(json.dumps(body).encode())
    assert decode_json(inflate(wire, "gzip", LIMITS.max_batch_request_bytes)) == body
