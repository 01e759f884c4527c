"""The hand-written mapping golden cases (contracts/mapping/**/*.json), loaded for any runner.

A runner plays `case.message` through some path and compares the outcome with `case.expected`:
the pure mapping (test_golden_mapping.py) or, for event cases, a delivery into a live mock,
comparing the stored event with `case.expected_event`. Outcomes are compared as JSON values
(`assert_same_json`): 42 and 42.0 differ, as do 1 and true.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import pytest

from connector import Mapped, MappingError, MappingSettings, Skipped, map_message

MAPPING_DIR = Path(__file__).resolve().parents[2] / "contracts" / "mapping"
SCHEMA_PATH = MAPPING_DIR / "case.schema.json"

Kind = Literal["event", "skip", "error"]


@dataclass(frozen=True)
class GoldenCase:
    id: str  # path relative to contracts/mapping, e.g. "track/python-client-shape.json"
    path: Path
    description: str
    message: dict[str, Any]  # the Segment message, exactly as in the file ("input")
    settings: MappingSettings
    expected: dict[str, Any]  # {"event": {...}} | {"skip": {...}} | {"error": {...}}

    @property
    def kind(self) -> Kind:
        (kind,) = self.expected
        assert kind in ("event", "skip", "error"), kind
        return kind  # type: ignore[return-value]

    @property
    def expected_event(self) -> dict[str, Any]:
        event: dict[str, Any] = self.expected["event"]
        return event


def case_paths() -> list[Path]:
    """Every case file under contracts/mapping/, at any depth (the schema is no case)."""
    return sorted(path for path in MAPPING_DIR.rglob("*.json") if path != SCHEMA_PATH)


@cache
def load_cases() -> tuple[GoldenCase, ...]:
    """All cases, parsed once per session: treat them as read-only."""
    return tuple(_load(path) for path in case_paths())


def case_params(kinds: Iterable[Kind] = ("event", "skip", "error")) -> list[Any]:
    """pytest parameters (id = relative path) for the cases of the given kinds."""
    wanted = set(kinds)
    return [pytest.param(case, id=case.id) for case in load_cases() if case.kind in wanted]


def mapping_outcome(case: GoldenCase) -> dict[str, Any]:
    """What the pure mapping makes of the case, in the shape of `expected`."""
    try:
        result = map_message(case.message, case.settings)
    except MappingError as error:
        return {"error": {"code": error.code, "field": error.field}}
    return outcome_of(result)


def outcome_of(result: Mapped | Skipped) -> dict[str, Any]:
    if isinstance(result, Mapped):
        return {"event": result.event}
    return {"skip": {"type": result.type, "reason": result.reason}}


def assert_same_json(actual: Any, expected: Any) -> None:
    """Equal as JSON values: the same structure and the same JSON types (42 is not 42.0)."""
    assert actual == expected
    assert _canonical(actual) == _canonical(expected)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=False)


def _load(path: Path) -> GoldenCase:
    case = json.loads(path.read_text(encoding="utf-8"))
    settings = case.get("settings", {})
    return GoldenCase(
        id=path.relative_to(MAPPING_DIR).as_posix(),
        path=path,
        description=case["description"],
        message=case["input"],
        settings=MappingSettings(
            actor_type=settings.get("actorType", "Customer"),
            map_page_screen=settings.get("mapPageScreen", False),
            max_label_length=settings.get("maxLabelLength"),
        ),
        expected=case["expected"],
    )
