"""The `segment_gateway` fixture's session coverage of its plan, as a user meets it through
pytester: the hand-written golden coverage case's table in the terminal summary, its totals in
the JUnit XML, --segment-min-coverage / ini segment_min_coverage failing the session, and the
whole session's totals under pytest-xdist (-n 2)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from tests.plans.golden import coverage_cases
from tests.plugin.pytester_helpers import STRICT_INI, run_inprocess, run_subprocess, user_file

PARTIAL = dict(coverage_cases())["partial"]
COUNT = len(PARTIAL["messages"])
HEADER = "segment_gateway: coverage of the tracking plan Coverage"
NEVER_SEEN = ('segment_gateway: event coverage 66.6 % (4/6) is below 100 %; never seen: '
              'track "Signed Up" v1, group v1')

# One message per test: which worker sends which message does not matter to the totals.
SENDS = '''
import os
from pathlib import Path

MESSAGES = json.loads({messages!r})


@pytest.mark.parametrize("index", range(len(MESSAGES)))
def test_sends_one_message(segment_gateway, index):
    segment_gateway.send("batch", {{"batch": [MESSAGES[index]]}})
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    Path(f"worker-{{index}}.txt").write_text(worker)
'''


def _user(pytester: pytest.Pytester) -> None:
    user_file(pytester, SENDS.format(messages=json.dumps(PARTIAL["messages"])))
    (pytester.path / "plan.json").write_text(json.dumps(PARTIAL["plan"]))


def _summary(lines: list[str]) -> list[str]:
    start = next(i for i, line in enumerate(lines) if HEADER in line)
    return lines[start + 1:start + 1 + len(PARTIAL["table"])]


def test_the_summary_shows_the_coverage_and_a_minimum_fails_the_session(
    pytester: pytest.Pytester,
) -> None:
    _user(pytester)
    result = run_inprocess(pytester, "--segment-tracking-plan=plan.json",
                           "--segment-min-coverage=100", "--junitxml=junit.xml")
    result.assert_outcomes(passed=COUNT)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    lines = result.stdout.lines
    assert _summary(lines) == PARTIAL["table"]
    assert NEVER_SEEN in lines

    suite = ET.parse(pytester.path / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    properties = [(p.get("name"), p.get("value")) for p in suite.iter("property")]
    assert properties == [
        ("segment_coverage_plan", "Coverage"),
        ("segment_coverage_events", "4/6"),
        ("segment_coverage_properties", "9/16"),
        ('segment_coverage: track "Order Completed" v1',
         "seen 2 times; properties never seen: properties.products[].price"),
        ('segment_coverage: track "Order Completed" v2',
         "seen 1 time; properties never seen: properties.total"),
        ('segment_coverage: track "Product Viewed" v1',
         "seen 1 time; properties never seen: properties.price"),
        ('segment_coverage: track "Signed Up" v1',
         "never seen; properties never seen: properties.method"),
        ("segment_coverage: identify v1",
         "seen 1 time; properties never seen: traits.address.country, traits.name"),
        ("segment_coverage: group v1", "never seen; properties never seen: traits.name"),
    ]


def test_under_xdist_the_totals_are_the_whole_sessions(pytester: pytest.Pytester) -> None:
    _user(pytester)
    pytester.makeini(STRICT_INI + "segment_tracking_plan = plan.json\n"
                                  "segment_min_coverage = 66,56\n")
    result = run_subprocess(pytester, "-n", "2")
    result.assert_outcomes(passed=COUNT)
    assert result.ret == pytest.ExitCode.OK
    assert _summary(result.stdout.lines) == PARTIAL["table"]
    workers = {(pytester.path / f"worker-{i}.txt").read_text() for i in range(COUNT)}
    assert workers == {"gw0", "gw1"}  # both workers sent some: the totals were added up


def test_a_bad_minimum_is_a_usage_error(pytester: pytest.Pytester) -> None:
    _user(pytester)
    result = run_inprocess(pytester, "--segment-tracking-plan=plan.json",
                           "--segment-min-coverage=90,x")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--segment-min-coverage / segment_min_coverage: 'x' is not a percentage (0 to 100)"])


def test_without_a_plan_there_is_no_coverage_section(pytester: pytest.Pytester) -> None:
    _user(pytester)
    result = run_inprocess(pytester)
    result.assert_outcomes(passed=COUNT)
    assert not [line for line in result.stdout.lines if "coverage of the tracking plan" in line]
