"""Running a user's test file under pytester: the file (with the user's helpers), a strict ini,
and a run in a subprocess or in process."""

from __future__ import annotations

from pathlib import Path

import pytest

# Prepended to every user test file: a valid event builder and a plain-urllib client.
USER_HELPERS = '''
import asyncio
import json
import urllib.request

import pytest

from mockserver.plugin import MockError, MockHandle


def event(event_type="Order Completed", user_id="u_1", anonymous_id="a_9", **fields):
    ids = {"userId": user_id, "anonymousId": anonymous_id}
    body = {
        "eventSource": "Segment",
        "eventType": event_type,
        "eventTime": "2026-11-28T10:00:00.000Z",
        "actors": {"Customer": {k: v for k, v in ids.items() if v is not None}},
        "labels": {"plan": "pro"},
        "numbers": {"revenue": 42.5},
    }
    body.update(fields)
    return body


def post(mock, body):
    data = json.dumps(body).encode()
    request = urllib.request.Request(mock.event_url, data=data, headers=mock.headers)
    with urllib.request.urlopen(request) as response:
        return response.status, json.loads(response.read())
'''


STRICT_INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
filterwarnings = error
"""


def user_file(pytester: pytest.Pytester, body: str, name: str = "test_user") -> Path:
    pytester.makeini(STRICT_INI)
    return pytester.makepyfile(**{name: USER_HELPERS + body})


# A fresh process pays for importing every plugin installed; the project's test-only ones are
# unrelated to a user of this plugin and cost seconds per process on a small CI machine.
UNRELATED_PLUGINS = ("cacheprovider", "hypothesispytest", "faker", "anyio", "schemathesis")


def run_subprocess(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    blocked = [arg for name in UNRELATED_PLUGINS for arg in ("-p", f"no:{name}")]
    return pytester.runpytest_subprocess(*blocked, *args)


def run_inprocess(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Run pytest in this process (fast). mockserver is already imported here, so the inner run's
    assertion rewriting of the plugin warns that it cannot rewrite it: a real run never does."""
    return pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning", *args
    )
