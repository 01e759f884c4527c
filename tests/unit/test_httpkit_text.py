"""httpkit/text.py: the first lone surrogate of a JSON value, and where it is."""

from __future__ import annotations

import json

import pytest

from httpkit.text import LoneSurrogate, find_lone_surrogate


@pytest.mark.parametrize(
    ("text", "found", "where"),
    [
        (r'{"userId": "\ud800"}', LoneSurrogate(0xD800, ("userId",)), "userId"),
        (r'{"batch": [{"a": 1}, {"properties": {"\udbff": "\ud801"}}]}',
         LoneSurrogate(0xDBFF, ("batch", 1, "properties"), in_key=True),
         "a key in batch[1].properties"),
        (r'"\udc00"', LoneSurrogate(0xDC00, ()), "the body"),
        (r'{"a": [1, "x", "y\ud800z"], "b": "\udfff"}', LoneSurrogate(0xD800, ("a", 2)), "a[2]"),
    ],
)
def test_the_first_lone_surrogate_in_writing_order_and_its_path(
    text: str, found: LoneSurrogate, where: str
) -> None:
    lone = find_lone_surrogate(text, json.loads(text))
    assert lone == found
    assert (lone.where(), lone.escape) == (where, f"\\u{found.code_point:04x}")


@pytest.mark.parametrize("text", [r'{"emoji": "\ud83d\ude00"}', '{"plain": "caf\u00e9"}', "[]"])
def test_a_pair_or_no_escape_is_no_finding(text: str) -> None:
    assert find_lone_surrogate(text, json.loads(text)) is None


def test_a_value_nested_as_deep_as_json_allows_is_walked_without_recursion() -> None:
    text = "[" * 5000 + r'"\ud800"' + "]" * 5000
    value = _nested(5000, "\ud800")  # deeper than json.loads reads: built by hand
    lone = find_lone_surrogate(text, value)
    assert lone is not None and (lone.code_point, len(lone.path)) == (0xD800, 5000)


def _nested(depth: int, leaf: str) -> object:
    value: object = leaf
    for _ in range(depth):
        value = [value]
    return value
