"""The `segment_gateway` fixture as a user meets it: test files run by pytester, with the
golden tracking-plan cases (contracts/tracking-plans/) and the official Python SDK, alone and
under pytest-xdist. The inner tests assert exact values; the outcome counts catch a test that
was not collected."""

from __future__ import annotations

import sys

import pytest

from tests.plans.golden import PLANS, ROOT, cases
from tests.plugin.pytester_helpers import STRICT_INI, run_inprocess, run_subprocess, user_file

CASES = cases()

# Every golden case through the fixture: its violations (and only its), the failure message,
# its delivery into the test's own tenant.
GOLDEN = '''
import pathlib


@pytest.mark.parametrize("path", sorted(pathlib.Path({cases!r}).glob("*.json")),
                         ids=lambda p: p.stem)
def test_golden_case(segment_gateway, pointillist_mock, path):
    case = json.loads(path.read_text())
    segment_gateway.send("batch", {{"batch": [case["message"]]}})
    found = segment_gateway.violations()
    assert [{{k: v[k] for k in ("kind", "path", "message")}} for v in found] == case["violations"]
    assert {{v["messageId"] for v in found}} <= {{case["message"]["messageId"]}}
    apart = segment_gateway.unplanned_properties()
    assert [{{k: v[k] for k in ("kind", "path", "message")}} for v in apart] == case.get(
        "unplanned", [])
    if case["violations"]:
        with pytest.raises(AssertionError) as failure:
            segment_gateway.assert_no_violations()
        message = case["message"]
        name = json.dumps(message["event"]) if "event" in message else message["type"]
        assert str(failure.value).splitlines() == [
            f"{{len(found)}} tracking-plan violation(s):",
            *(f"  {{message['messageId']}} {{name}} {{v['kind']}} {{v['path']}}: {{v['message']}}"
              for v in case["violations"])]
    else:
        segment_gateway.assert_no_violations()
    assert segment_gateway.wait_for_delivery()["pending"] == 0
    assert len(pointillist_mock.assert_received(1)) == 1
'''


@pytest.mark.parametrize("plan", PLANS, ids=lambda p: p.name)
def test_the_golden_cases_pass_through_the_fixture(pytester: pytest.Pytester, plan: object) -> None:
    user_file(pytester, GOLDEN.format(cases=str(ROOT / "cases")))
    run_inprocess(pytester, f"--segment-tracking-plan={plan}").assert_outcomes(
        passed=len(CASES))


def test_the_golden_cases_pass_under_xdist_with_the_ini_option(
    pytester: pytest.Pytester,
) -> None:
    import xdist  # noqa: F401  (a dev dependency: this test keeps the fixture's xdist promise)

    user_file(pytester, GOLDEN.format(cases=str(ROOT / "cases")))
    pytester.makeini(f"{STRICT_INI}segment_tracking_plan = {PLANS[0]}\n")
    result = run_subprocess(pytester, "-n", "2", "-v")
    result.assert_outcomes(passed=len(CASES))
    workers = {line.split("]")[0] for line in result.outlines if line.startswith("[gw")}
    assert workers == {"[gw0", "[gw1"}  # both workers ran cases, each with its own gateway


# The Python SDK through the fixture, and two tests sending the same messageId (each its own).
SDK = '''
from segment.analytics import Client


@pytest.mark.parametrize("revenue", [12.5, "12.5"])
def test_checkout(segment_gateway, pointillist_mock, revenue):
    client = Client(segment_gateway.write_key, host=segment_gateway.url, sync_mode=True,
                    max_retries=0)
    client.track(user_id="u_1", event="Order Completed", message_id="same-id",
                 properties={{"order_id": "o_1", "revenue": revenue, "currency": "EUR"}})
    found = [(v["messageId"], v["kind"], v["path"]) for v in segment_gateway.violations()]
    assert found == ([] if revenue == 12.5 else
                     [("same-id", "invalid_type", "properties.revenue")])
    segment_gateway.wait_for_delivery()
    (stored,) = pointillist_mock.assert_received(1, event_type="Order Completed")
    assert stored["event"]["actors"] == {{"Customer": {{"userId": "u_1"}}}}
    assert repr(segment_gateway) == (
        f"GatewayHandle(url={{segment_gateway.url!r}}, write_key='tes…')")
'''


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one-process", "xdist"])
def test_the_python_sdk_through_the_fixture_one_tenant_per_test(
    pytester: pytest.Pytester, workers: list[str]
) -> None:
    user_file(pytester, SDK.format())
    run = run_subprocess if workers else run_inprocess
    run(pytester, f"--segment-tracking-plan={PLANS[0]}", *workers).assert_outcomes(passed=2)


def test_a_plan_that_cannot_be_used_errors_every_test_that_asks_for_the_fixture(
    pytester: pytest.Pytester,
) -> None:
    plan = pytester.path / "plan.yaml"
    plan.write_text("events: [1, 2]\n")
    user_file(pytester, "\n\ndef test_a(segment_gateway):\n    pass\n\n\n"
                        "def test_b(pointillist_mock):\n    pass\n")
    result = run_inprocess(pytester, f"--segment-tracking-plan={plan}")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([f"*segment_gateway: tracking plan {plan}*"])


def test_the_plugin_module_is_the_registered_entry_point(pytestconfig: pytest.Config) -> None:
    from importlib.metadata import entry_points

    (entry,) = entry_points(group="pytest11", name="segment_gateway")
    assert entry.value == "connector.pytest_plugin"
    plugin = pytestconfig.pluginmanager.get_plugin("segment_gateway")
    assert plugin is sys.modules["connector.pytest_plugin"]
    assert "mockserver" not in sys.modules["connector.pytest_plugin"].__name__


def test_assert_no_violations_refuses_without_a_plan_and_the_header_says_so(
    pytester: pytest.Pytester,
) -> None:
    from connector.testing import NO_PLAN

    user_file(pytester, "\n\ndef test_a(segment_gateway):\n"
                        "    segment_gateway.send('track', {'userId': 'u', 'event': 'E'})\n"
                        "    segment_gateway.assert_no_violations()\n")
    result = run_inprocess(pytester)
    result.assert_outcomes(failed=1)
    assert ("segment_gateway: no tracking plan (set one with --segment-tracking-plan PATH or "
            "the ini option segment_tracking_plan)") in result.outlines
    assert f"E       AssertionError: {NO_PLAN}" in result.outlines


def test_the_header_names_the_plan_in_use(pytester: pytest.Pytester) -> None:
    user_file(pytester, "\n\ndef test_a(segment_gateway):\n"
                        "    segment_gateway.send('track', {'userId': 'u', 'event': 'E'})\n"
                        "    segment_gateway.assert_no_violations()\n")
    plan = pytester.path / "plan.yaml"
    plan.write_text("name: Shop\nevents:\n  E: {}\n")
    result = run_inprocess(pytester, f"--segment-tracking-plan={plan}")
    result.assert_outcomes(passed=1)
    assert f"segment_gateway: tracking plan Shop ({plan})" in result.outlines
