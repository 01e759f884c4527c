"""Plays every hand-written golden case in contracts/mapping/ against the pure mapping.

The cases are the arbiter: when one fails, fix the code, or, if the case contradicts
contracts/mapping/README.md, report it; never edit a case to make the code pass.
An end-to-end runner (delivery into a live mock) can sit next to this one, using the same
`load_cases()` / `case_params(("event",))` from golden.py.
"""

from __future__ import annotations

import copy

import pytest

from connector import Mapped, map_message
from tests.contract.golden import (
    MAPPING_DIR,
    GoldenCase,
    assert_same_json,
    case_params,
    load_cases,
    mapping_outcome,
)

CASE_DIRS = {"identify", "track", "engage", "skip", "error", "timestamp"}


@pytest.mark.parametrize("case", case_params())
def test_golden_case(case: GoldenCase) -> None:
    before = copy.deepcopy(case.message)
    outcome = mapping_outcome(case)
    assert_same_json(outcome, case.expected)
    assert case.message == before, "map_message must not modify its input"


@pytest.mark.parametrize("case", case_params(("event",)))
def test_mapped_case_carries_message_id_and_actor_key(case: GoldenCase) -> None:
    result = map_message(case.message, case.settings)
    assert isinstance(result, Mapped)
    assert result.type == case.message.get("type", case.message.get("action"))
    assert result.message_id == case.message.get("messageId")
    ((actor_type, ids),) = case.expected_event["actors"].items()
    assert actor_type == case.settings.actor_type
    if "userId" in ids:
        assert result.actor_key == f"userId:{ids['userId']}"
    else:
        assert result.actor_key == f"anonymousId:{ids['anonymousId']}"


def test_every_case_file_is_discovered() -> None:
    ids = [case.id for case in load_cases()]
    on_disk = sorted(path.relative_to(MAPPING_DIR).as_posix() for path in MAPPING_DIR.glob("*/*"))
    assert ids == on_disk
    assert {case_id.split("/")[0] for case_id in ids} == CASE_DIRS
    assert len(ids) >= 40


def test_every_outcome_kind_is_covered() -> None:
    assert {case.kind for case in load_cases()} == {"event", "skip", "error"}
