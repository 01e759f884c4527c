"""A plan file's text → plain data, within limits (a plan is untrusted input).

- JSON is JSON: a `.json` file, or any text whose first non-blank character is `{` or `[`, is
  parsed as JSON (Typewriter writes every plan.json indented with tabs, which YAML refuses).
  Anything else is YAML (the short form).
- Limits, each refused in one line before any work grows with it:
  MAX_BYTES (15 MB, Segment's own limit for an uploaded plan: "Tracking Plan CSV files uploaded
  to Segment must be smaller than 15 mb"), MAX_DEPTH levels of nesting (a real plan nests
  about 12), MAX_VALUES values once YAML aliases are expanded (a "billion laughs" plan is
  refused from its node graph, without expanding it; an alias that contains itself too).
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from typing import Any, Final

import yaml

MAX_BYTES: Final = 15 * 1024 * 1024
MAX_DEPTH: Final = 64
MAX_VALUES: Final = 2_000_000


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys; a plan with two `Order Completed:` is refused."""

    duplicates: list[str]


def _mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Hashable] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, Hashable) and key in seen:
            mark = key_node.start_mark
            loader.duplicates.append(
                f"line {mark.line + 1}: the key {json.dumps(str(key))} is given twice (two "
                "rules for one event or property)")
        if isinstance(key, Hashable):
            seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def is_json(text: str, name: str = "") -> bool:
    return name.lower().endswith(".json") or text.lstrip()[:1] in ("{", "[")


def parse_text(text: str, name: str = "") -> tuple[Any, list[str]]:
    """(data, problems); data is None when the text cannot be used at all."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        return None, [f"{size} bytes is over the limit of {MAX_BYTES} bytes (15 MB) for a plan"]
    return _parse_json(text) if is_json(text, name) else _parse_yaml(text)


def _parse_json(text: str) -> tuple[Any, list[str]]:
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                duplicates.append(f"the key {json.dumps(key)} is given twice in one object")
            out[key] = value
        return out

    try:
        data = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        return None, [f"line {exc.lineno} column {exc.colno}: not JSON ({exc.msg})"]
    except RecursionError:
        return None, [_too_deep()]
    depth = _data_depth(data)
    if depth > MAX_DEPTH:
        return None, [_too_deep()]
    return data, duplicates


def _parse_yaml(text: str) -> tuple[Any, list[str]]:
    loader = _UniqueKeyLoader(text)
    loader.duplicates = []
    try:
        node = loader.get_single_node()
        if node is None:
            return None, []
        problem = _node_problem(node)
        if problem is not None:
            return None, [problem]
        data = loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        return None, [f"{where}not JSON or YAML ({problem})"]
    except RecursionError:
        return None, [_too_deep()]
    finally:
        loader.dispose()
    return data, list(loader.duplicates)


def _too_deep() -> str:
    return f"nested more than {MAX_DEPTH} levels deep (the limit for a plan)"


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _node_problem(root: yaml.Node) -> str | None:
    """Depth and expanded size of a composed YAML graph (aliases are shared nodes), in time
    linear in its distinct nodes: iterative, each node's size computed once."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            kids = _children(node)
            size[key] = 1 + sum(size[id(kid)] for kid in kids)
            nested = max((depth[id(kid)] for kid in kids), default=0)
            depth[key] = 0 if isinstance(node, yaml.ScalarNode) else 1 + nested
            on_path.discard(key)
            if size[key] > MAX_VALUES:
                return (f"YAML aliases expand to more than {MAX_VALUES} values (the limit "
                        "for a plan)")
            if depth[key] > MAX_DEPTH:
                return _too_deep()
            continue
        if key in size:
            continue
        if key in on_path:
            mark = node.start_mark
            return f"line {mark.line + 1}: a YAML alias contains itself"
        on_path.add(key)
        stack.append((node, True))
        stack.extend((kid, False) for kid in _children(node) if id(kid) not in size)
    return None


def _data_depth(data: Any) -> int:
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, level)
            if level > MAX_DEPTH:
                return level
            items = value.values() if isinstance(value, dict) else value
            stack.extend((item, level + 1) for item in items)
    return deepest


__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_VALUES", "is_json", "parse_text"]
