"""Golden cases through the pure checker (each plan form) and through `segment-connector
validate` (one JSONL file of every case: its lines and exit status)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from connector.cli import main
from connector.plans import check, load_plan
from tests.plans.golden import PLANS, cases, expected, expected_unplanned

CASES = cases()


@pytest.mark.parametrize("plan_path", PLANS, ids=lambda p: p.name)
@pytest.mark.parametrize(("name", "case"), CASES, ids=[name for name, _ in CASES])
def test_the_checker_finds_exactly_the_cases_violations(
    plan_path: Path, name: str, case: dict[str, Any]
) -> None:
    found = check(case["message"], load_plan(plan_path))
    assert [{"kind": v.kind, "path": v.path, "message": v.message}
            for v in found.violations] == expected(case)
    assert [{"kind": v.kind, "path": v.path, "message": v.message}
            for v in found.unplanned] == expected_unplanned(case)
    assert {v.message_id for v in found.all()} <= {case["message"]["messageId"]}


@pytest.mark.parametrize("plan_path", PLANS, ids=lambda p: p.name)
def test_validate_prints_one_line_per_violation_and_exits_1(
    plan_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = tmp_path / "capture.jsonl"
    capture.write_text("".join(json.dumps(case["message"]) + "\n" for _, case in CASES))
    junit = tmp_path / "junit.xml"
    assert main(["validate", str(capture), "--plan", str(plan_path),
                 "--junit-xml", str(junit)]) == 1
    out = capsys.readouterr().out.splitlines()
    lines = [line for line in out if line.startswith("line ")]
    wanted: list[str] = []
    apart: list[str] = []
    for number, (_, case) in enumerate(CASES, start=1):
        for listed, found in ((wanted, expected(case)), (apart, expected_unplanned(case))):
            for v in found:
                text = v["message"].removeprefix(f"{v['path']}: ")
                listed.append(f"line {number}: {case['message']['messageId']} {v['kind']} "
                              f"{v['path']}: {text}")
    assert lines == wanted + apart
    assert out[out.index(apart[0]) - 1] == (
        "unplanned properties (3; not violations in Protocols, --fail-on-unplanned-properties "
        "fails on them):")
    total = sum(len(case["violations"]) for _, case in CASES)
    failing = sum(bool(case["violations"]) for _, case in CASES)
    assert out[-1] == (f"{total} violation(s) in {failing} of {len(CASES)} message(s); "
                       "3 unplanned properties; 0 unreadable line(s)")
    xml = junit.read_text()
    assert f'tests="{len(CASES)}" failures="{failing}" errors="0"' in xml


def test_unplanned_properties_fail_validate_only_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = tmp_path / "capture.jsonl"
    capture.write_text(json.dumps(dict(CASES)["unplanned-property"]["message"]) + "\n")
    assert main(["validate", str(capture), "--plan", str(PLANS[0])]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "0 violation(s) in 0 of 1 message(s); 1 unplanned property; 0 unreadable line(s)")
    assert main(["validate", str(capture), "--plan", str(PLANS[0]),
                 "--fail-on-unplanned-properties"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[1:3] == [
        "unplanned properties (1; not violations in Protocols):",
        "line 1: golden-unplanned-property unplanned_property properties.coupon: "
        "properties.coupon is not in the tracking plan for \"Order Completed\""]
    assert out[-1] == (
        "0 violation(s) in 1 of 1 message(s); 1 unplanned property; 0 unreadable line(s)")


def test_validate_exits_0_on_clean_traffic_and_2_on_unreadable_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clean = dict(CASES)["clean-track"]["message"]
    capture = tmp_path / "capture.jsonl"
    capture.write_text(json.dumps(clean) + "\n")
    assert main(["validate", str(capture), "--plan", str(PLANS[0])]) == 0
    capture.write_text(json.dumps(clean) + "\n{not json\n[1]\n")
    capsys.readouterr()
    assert main(["validate", str(capture), "--plan", str(PLANS[0])]) == 2
    out = capsys.readouterr().out.splitlines()
    assert [line for line in out if "unreadable:" in line] == [
        "line 2: unreadable: not JSON (Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1))",
        "line 3: unreadable: a JSON list, not an object",
    ]
