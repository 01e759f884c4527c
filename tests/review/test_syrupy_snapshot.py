"""`assert pointillist_mock.snapshot() == snapshot` with syrupy in a user's project (pytester):
written by --snapshot-update, passing, failing with the event-level diff after a change, passing
again once updated."""

from __future__ import annotations

import pytest

UNRELATED_PLUGINS = ("cacheprovider", "hypothesispytest", "faker", "anyio", "schemathesis")

USER_TEST = '''
def test_checkout(pointillist_mock, snapshot):
    pointillist_mock.send({{"eventType": "identify", "eventTime": "2026-11-28T10:00:00.000Z",
                           "actors": {{"Customer": {{"userId": "u_1", "anonymousId": "a_9"}}}},
                           "labels": {{"plan": "{plan}"}}}})
    pointillist_mock.send({{"eventType": "Order Completed",
                           "eventTime": "2026-11-28T11:00:00.000Z",
                           "actors": {{"Customer": {{"userId": "u_1"}}}},
                           "numbers": {{"revenue": {revenue}}}}})
    assert pointillist_mock.snapshot() == snapshot
'''


def _run(pytester: pytest.Pytester, plan: str, revenue: float,
         *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_shop=USER_TEST.format(plan=plan, revenue=revenue))
    blocked = [arg for name in UNRELATED_PLUGINS for arg in ("-p", f"no:{name}")]
    return pytester.runpytest_subprocess(*blocked, *args)


def test_a_syrupy_snapshot_passes_fails_with_an_event_diff_and_updates(
        pytester: pytest.Pytester) -> None:
    written = _run(pytester, "pro", 42.5, "--snapshot-update")
    written.assert_outcomes(passed=1)
    stored = (pytester.path / "__snapshots__" / "test_shop.ambr").read_text()
    assert ('{"actors":{"Customer":{"userId":"u_1"}},"eventTime":"2026-11-28T11:00:00.000Z",'
            '"eventType":"Order Completed","numbers":{"revenue":42.5}}') in stored
    _run(pytester, "pro", 42.5).assert_outcomes(passed=1)

    changed = _run(pytester, "free", 40)
    changed.assert_outcomes(failed=1)
    changed.stdout.fnmatch_lines([
        "E       assert the events received differ from the stored snapshot (A: stored, "
        "B: received; --snapshot-update stores what was received):",
        "E         Customer userId=u_1",
        "E           ~ #1 identify at 2026-11-28T10:00:00.000Z",
        'E               label plan: "pro" → "free"',
        "E           ~ #2 Order Completed at 2026-11-28T11:00:00.000Z",
        "E               number revenue: 42.5 → 40",
        "E         0 added, 0 removed, 2 changed in 1 actor; 0 unchanged (A: 2 events, B: 2)",
    ])
    assert "{" not in "".join(line for line in changed.outlines if line.startswith("E  "))

    _run(pytester, "free", 40, "--snapshot-update").assert_outcomes(passed=1)
    _run(pytester, "free", 40).assert_outcomes(passed=1)
