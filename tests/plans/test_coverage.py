"""Coverage of a plan: the hand-written golden cases (contracts/tracking-plans/coverage/)
through the pure report and `segment-connector validate --coverage` (table, total line,
--min-coverage, --junit-xml)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from connector.cli import main
from connector.plans import plan_from_data
from connector.plans.coverage import Tally, parse_minimum, report, table, tally_messages
from tests.plans.golden import coverage_cases, write_case

CASES = coverage_cases()
IDS = [name for name, _ in CASES]
PARTIAL = dict(CASES)["partial"]


@pytest.mark.parametrize(("name", "case"), CASES, ids=IDS)
def test_the_report_is_the_cases_coverage(name: str, case: dict[str, Any]) -> None:
    plan = plan_from_data(case["plan"], name)
    coverage = report(plan, tally_messages(case["messages"], plan))
    assert coverage.as_dict() == case["coverage"]
    assert list(table(coverage)) == case["table"]


def test_tallies_added_up_in_any_split_give_the_whole_coverage() -> None:
    plan = plan_from_data(PARTIAL["plan"], "partial")
    messages = PARTIAL["messages"]
    whole = Tally()
    for part in (messages[:2], messages[2:5], messages[5:]):
        # through JSON, as pytest-xdist's workers hand theirs over
        whole.merge(Tally.from_data(json.loads(json.dumps(tally_messages(part, plan).as_data()))))
    assert report(plan, whole).as_dict() == PARTIAL["coverage"]


@pytest.mark.parametrize(("name", "case"), CASES, ids=IDS)
def test_validate_prints_the_table_and_the_total(
    name: str, case: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan, capture = write_case(tmp_path, case)
    status = main(["validate", str(capture), "--plan", str(plan), "--coverage"])
    out = capsys.readouterr().out.splitlines()
    start = out.index(f"coverage of the plan {case['plan']['name']}:")
    assert out[start + 1:] == case["table"]
    unplanned_event = any(m.get("event") in ("Cart Viewed", "signed up")
                          for m in case["messages"])
    assert status == (1 if unplanned_event else 0)  # coverage alone fails nothing


@pytest.mark.parametrize(("minimum", "status", "short"), [
    ("66", 0, []),
    ("66.6,56.2", 0, []),
    ("66.7", 1, ['coverage: event coverage 66.6 % (4/6) is below 66.7 %; never seen: '
                 'track "Signed Up" v1, group v1']),
    ("50,60", 1, ["coverage: property coverage 56.2 % (9/16) is below 60 %"]),
    ("100,100", 1, ['coverage: event coverage 66.6 % (4/6) is below 100 %; never seen: '
                    'track "Signed Up" v1, group v1',
                    "coverage: property coverage 56.2 % (9/16) is below 100 %"]),
])
def test_min_coverage_exits_1_below_it_and_names_what_was_never_seen(
    minimum: str, status: int, short: list[str], tmp_path: Path,
    capsys: pytest.CaptureFixture[str]
) -> None:
    # no violation left: no unplanned event, and revenue a number rather than null
    planned_only = [m if m["messageId"] != "cov-2" else
                    {**m, "properties": {"order_id": "o_2", "revenue": 12.5}}
                    for m in PARTIAL["messages"]
                    if m.get("event") not in ("Cart Viewed", "signed up")]
    plan, capture = write_case(tmp_path, {**PARTIAL, "messages": planned_only})
    assert main(["validate", str(capture), "--plan", str(plan), "--min-coverage",
                 minimum]) == status
    out = capsys.readouterr().out.splitlines()
    assert [line for line in out if line.startswith("coverage: ")] == short
    assert out[-1 - len(short)] == "events 4/6 (66.6 %), properties 9/16 (56.2 %)"


@pytest.mark.parametrize("given", ["", "abc", "90,", "1,2,3", "101", "-1", "50,x"])
def test_a_bad_min_coverage_is_a_one_line_usage_error(
    given: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan, capture = write_case(tmp_path, PARTIAL)
    with pytest.raises(SystemExit) as stopped:
        main(["validate", str(capture), "--plan", str(plan), "--min-coverage", given])
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("segment-connector validate: error: argument --min-coverage: ")
    assert "\n" not in err


def test_parse_minimum_reads_events_and_properties() -> None:
    assert parse_minimum("90") == (90.0, None)
    assert parse_minimum(" 90 , 75.5") == (90.0, 75.5)
    with pytest.raises(ValueError, match=r"^'x' is not a percentage \(0 to 100\)$"):
        parse_minimum("x")


def test_junit_xml_has_one_test_case_per_planned_event(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan, capture = write_case(tmp_path, PARTIAL)
    junit = tmp_path / "junit.xml"
    assert main(["validate", str(capture), "--plan", str(plan), "--coverage",
                 "--junit-xml", str(junit)]) == 1
    capsys.readouterr()
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites"
    messages, coverage = list(root)
    assert (messages.get("name"), messages.get("tests")) == ("tracking plan Coverage", "7")
    assert {k: coverage.get(k) for k in ("name", "tests", "failures", "errors")} == {
        "name": "tracking plan Coverage coverage", "tests": "6", "failures": "2",
        "errors": "0"}
    assert [(p.get("name"), p.get("value")) for p in coverage.iter("property")] == [
        ("events_seen", "4"), ("events_planned", "6"), ("properties_seen", "9"),
        ("properties_planned", "16")]
    cases = {case.get("name"): case for case in coverage.iter("testcase")}
    assert list(cases) == ['track "Order Completed" v1', 'track "Order Completed" v2',
                           'track "Product Viewed" v1', 'track "Signed Up" v1', "identify v1",
                           "group v1"]
    failure = cases['track "Signed Up" v1'].find("failure")
    assert failure is not None
    assert (failure.get("type"), failure.get("message")) == (
        "never_seen", 'track "Signed Up" v1 was never seen; planned properties never seen: '
        "properties.method")
    group = cases["group v1"].find("failure")
    assert group is not None and group.get("message") == (
        "group v1 was never seen; planned properties never seen: traits.name")
    assert cases["identify v1"].find("failure") is None
    assert cases["identify v1"].findtext("system-out") == (
        "planned properties never seen: traits.address.country, traits.name")
    assert cases['track "Order Completed" v1'].findtext("system-out") == (
        "planned properties never seen: properties.products[].price")
