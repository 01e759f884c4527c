"""codec.py: strict JSON for request bodies, and the compact text the store and journal keep."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mockserver.codec import dump_json, load_json, parse_json
from mockserver.errors import InvalidJson

# -- parse_json -----------------------------------------------------------------------------


def test_parse_json_reads_strict_json() -> None:
    assert parse_json(b'{"a": [1, 2.5, "\\u00e9", "\xc3\xa9", true, null]}') == {
        "a": [1, 2.5, "\u00e9", "\u00e9", True, None]}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"a": "\xff"}', "body is not valid UTF-8 (byte 7)"),
        (b"\xc3(", "body is not valid UTF-8 (byte 0)"),
        (b'{"n": NaN}', "body is not valid JSON: NaN is not a JSON number; send a finite number"),
        (b'{"n": Infinity}',
         "body is not valid JSON: Infinity is not a JSON number; send a finite number"),
        (b'{"n": -Infinity}',
         "body is not valid JSON: -Infinity is not a JSON number; send a finite number"),
        (b"", "body is not valid JSON: Expecting value at line 1 column 1"),
        (b"   ", "body is not valid JSON: Expecting value at line 1 column 4"),
        (b'{"a": 1', "body is not valid JSON: Expecting ',' delimiter at line 1 column 8"),
        (b'{"a": 1}\n{"b": 2}', "body is not valid JSON: Extra data at line 2 column 1"),
    ],
)
def test_parse_json_rejects(body: bytes, message: str) -> None:
    with pytest.raises(InvalidJson) as caught:
        parse_json(body)
    assert caught.value.message == message
    assert (caught.value.status, caught.value.code) == (400, "invalid_json")


@pytest.mark.parametrize("depth", [100_000, 5_000])
def test_parse_json_rejects_deep_nesting(depth: int) -> None:
    with pytest.raises(InvalidJson) as caught:
        parse_json(b"[" * depth + b"]" * depth)
    assert caught.value.message.startswith("body is not valid JSON: maximum recursion depth")
    assert caught.value.body()["error"]["code"] == "invalid_json"


def test_parse_json_accepts_ordinary_nesting() -> None:
    expected: list[Any] = []
    for _ in range(49):
        expected = [expected]
    assert parse_json(b"[" * 50 + b"]" * 50) == expected


# -- dump_json / load_json ----------------------------------------------------------------------


@pytest.mark.parametrize("value", [
    {"eventType": "Order Completed", "numbers": {"revenue": 42.5, "n": -3}, "ok": True,
     "none": None, "list": [1, "é", "日本"]},
    # Beyond 64 bits and lone surrogates: what orjson refuses to write goes through json.
    {"big": 2**64, "small": -(2**70)},
    {"lone": "\ud800"},
    [],
    "text",
])
def test_what_dump_json_writes_load_json_and_json_read_back_equal(value: Any) -> None:
    text = dump_json(value)
    assert load_json(text) == value
    assert json.loads(text) == value


def test_dump_json_is_compact_and_keeps_non_ascii() -> None:
    assert dump_json({"a": [1, "é"], "b": {"c": None}}) == '{"a":[1,"é"],"b":{"c":null}}'


def test_only_what_orjson_cannot_write_is_marked_for_the_json_module() -> None:
    assert not dump_json({"n": 2**63 - 1}).startswith(" ")
    assert dump_json({"n": 2**64}) == ' {"n":18446744073709551616}'
