"""A plan that cannot be used is refused at load, with every problem and its path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connector.errors import ConfigError, PlanError
from connector.plans import load_plan


def problems(tmp_path: Path, name: str, text: str) -> list[str]:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(PlanError) as caught:
        load_plan(path)
    assert isinstance(caught.value, ConfigError)
    return list(caught.value.details["problems"])


def test_an_unparseable_file_is_refused_with_its_line(tmp_path: Path) -> None:
    assert problems(tmp_path, "p.yaml", "events:\n  A: [\n") == [
        "line 3 column 1: not JSON or YAML (expected the node content, but found '<stream "
        "end>')"]


def test_every_problem_of_a_public_api_plan_is_listed_with_its_path(tmp_path: Path) -> None:
    rules = [
        {"type": "TRACK", "key": "A", "version": 1, "jsonSchema": {"type": "strin"}},
        {"type": "TRACK", "key": "B", "version": 1, "jsonSchema": {}},
        {"type": "TRACK", "key": "B", "version": 1, "jsonSchema": {}},
        {"type": "SOMETHING", "key": "C", "jsonSchema": {}},
        {"type": "TRACK", "key": "D", "version": 0, "jsonSchema": {}},
    ]
    assert problems(tmp_path, "p.json", json.dumps({"rules": rules})) == [
        "rules[0] (A): jsonSchema: invalid JSON Schema at type: \"strin\" is not a type name "
        "(any, array, boolean, integer, null, number, object, string) or a list of them",
        "rules[3] (C): type must be one of TRACK, IDENTIFY, GROUP, PAGE, SCREEN, COMMON, not "
        "\"SOMETHING\"",
        "rules[4] (D): jsonSchema: version must be an integer >= 1, not 0",
        "rules[2] (B): jsonSchema: a second rule for track \"B\" version 1 (the first is at "
        "rules[1] (B): jsonSchema)",
    ]


def test_duplicate_keys_in_the_short_form_are_refused(tmp_path: Path) -> None:
    text = "events:\n  A: {properties: {x: string}}\n  A: {properties: {y: nope}}\n"
    assert problems(tmp_path, "p.yaml", text) == [
        "line 3: the key \"A\" is given twice (two rules for one event or property)",
        "events.A.properties.y: invalid JSON Schema at type: \"nope\" is not a type name (any, "
        "array, boolean, integer, null, number, object, string) or a list of them",
    ]


def test_a_file_that_is_no_plan_says_which_forms_are(tmp_path: Path) -> None:
    found = problems(tmp_path, "p.json", '{"hello": 1}')
    assert found == [
        "not a tracking plan: expected a Config API export ({\"rules\": {\"events\": [...]}}), "
        "a Public API rules list ([{\"type\", \"key\", \"version\", \"jsonSchema\"}]) or the "
        "short form (events:, identify:, group:, pages:, screens:, common:), not an object "
        "with keys hello"]


def test_short_form_problems_name_the_field_as_written(tmp_path: Path) -> None:
    text = ("events:\n  Signed Up:\n    properties:\n"
            "      plan.tier: {type: string, pattern: '(?=a)'}\n"
            "      referrer: {$ref: 'https://example.com/r.json'}\n")
    assert problems(tmp_path, "p.yaml", text) == [
        "events.Signed Up.properties.plan.tier: the pattern \"(?=a)\" is refused: RE2 cannot "
        "run it (invalid perl operator: (?=); patterns run on RE2, in linear time, without "
        "backreferences or lookaround",
        "events.Signed Up.properties.referrer: the $ref \"https://example.com/r.json\" is "
        "refused: a plan may only refer inside itself (#/definitions/...), never to a URL or a "
        "file"]


def test_config_api_trait_lists_are_read_or_refused_by_their_shape(tmp_path: Path) -> None:
    whole_call = {"type": "object", "properties": {"traits": {
        "type": "object", "properties": {"company": {"type": "object"}},
        "required": ["company"]}}}
    plan = {"display_name": "Kicks App", "rules": {
        "events": [], "identify_traits": [], "group_traits": [whole_call],
        "identify": {"properties": {"traits": {"properties": {"name": {"type": "string"}}}}}}}
    path = tmp_path / "p.json"
    path.write_text(json.dumps(plan))
    loaded = load_plan(path)
    (group,) = loaded.rules[("group", None)]
    assert (group.planned, group.where) == (frozenset({"company"}), "rules.group")
    plan["rules"]["identify_traits"] = [{"key": "email", "type": "string"}]  # type: ignore[index]
    assert problems(tmp_path, "p.json", json.dumps(plan)) == [
        "rules.identify_traits[0]: not read: only a JSON Schema of the whole call "
        "({\"properties\": {\"traits\": {...}}}) is understood here; move these traits to "
        "rules.identify"]
