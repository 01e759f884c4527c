"""Structural checks of the hand-written mapping golden cases in contracts/mapping/.

This test imports no project code. It only makes sure that every case file is well formed, so
that the mapping tests which do use the cases can trust them. The cases themselves are written
by hand and reviewed; never regenerate them from code output.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

REPO_ROOT = Path(__file__).resolve().parents[2]
MAPPING_DIR = REPO_ROOT / "contracts" / "mapping"
SCHEMA_PATH = MAPPING_DIR / "case.schema.json"

CASE_DIRS = ("identify", "track", "engage", "skip", "error", "timestamp")
MIN_CASES = 40
EVENT_REQUIRED_KEYS = ("eventSource", "eventType", "eventTime", "actors")
KEBAB_CASE_NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*\.json$")

CASE_PATHS = sorted(MAPPING_DIR.glob("*/*.json"))


def _case_id(path: Path) -> str:
    return path.relative_to(MAPPING_DIR).as_posix()


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _load(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    return json.loads(text, object_pairs_hook=_reject_duplicate_keys)


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = _load(SCHEMA_PATH)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(_load(SCHEMA_PATH))


@pytest.mark.parametrize("path", CASE_PATHS, ids=_case_id)
def test_case_matches_schema(path: Path, validator: Draft202012Validator) -> None:
    case = _load(path)
    errors = sorted(validator.iter_errors(case), key=lambda e: list(e.absolute_path))
    messages = [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors]
    assert messages == []


@pytest.mark.parametrize("path", CASE_PATHS, ids=_case_id)
def test_expected_event_has_required_fields(path: Path) -> None:
    expected = _load(path)["expected"]
    if "event" not in expected:
        return
    event = expected["event"]
    missing = [key for key in EVENT_REQUIRED_KEYS if key not in event]
    assert missing == []
    assert event["eventSource"] == "Segment"
    assert "location" not in event


@pytest.mark.parametrize("path", CASE_PATHS, ids=_case_id)
def test_case_file_layout(path: Path) -> None:
    assert path.parent.name in CASE_DIRS
    assert KEBAB_CASE_NAME.match(path.name), path.name
    text = path.read_text(encoding="utf-8")
    assert text.endswith("}\n")
    assert "\\u" not in text, "write non-ASCII characters literally, not as \\u escapes"
    assert "\t" not in text
    for line in text.splitlines():
        indent = len(line) - len(line.lstrip(" "))
        assert indent % 2 == 0, f"odd indentation: {line!r}"


def test_there_are_enough_cases() -> None:
    assert len(CASE_PATHS) >= MIN_CASES


@pytest.mark.parametrize("directory", CASE_DIRS)
def test_every_case_directory_has_cases(directory: str) -> None:
    assert sorted((MAPPING_DIR / directory).glob("*.json")) != []
