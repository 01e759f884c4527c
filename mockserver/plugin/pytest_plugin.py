"""pytest fixtures for testing a Pointillist integration against the mock.

Installed with the package (entry point `pytest11`), so the fixtures are simply there:

    def test_order_is_sent(pointillist_mock: MockHandle) -> None:
        send_order(url=pointillist_mock.event_url, token=pointillist_mock.token)
        pointillist_mock.wait_for(1, event_type="Order Completed")
        pointillist_mock.assert_event("Order Completed", labels={"plan": "pro"})

`pointillist_mock_server` (session) is the base URL of one mock per test process: an in-memory
mock started on first use, or the one given by `--pointillist-mock-url` / the ini option
`pointillist_mock_url` (checked to answer before any test uses it). Each test's
`pointillist_mock` gets a fresh token, hence a tenant of its own: parallel tests (pytest-xdist)
never see each other's data and nothing needs a global reset. Data is kept after the test (a
failing test's report shows its URL and token, to look at it while an external mock runs).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Generator, Iterator

import pytest

from mockserver.plugin.handle import MockHandle
from mockserver.settings import Settings

__all__ = ["MockHandle", "pointillist_mock", "pointillist_mock_server"]

URL_OPTION = "pointillist_mock_url"
HEALTH_TIMEOUT = 5.0


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pointillist-mock")
    help_text = "use the pointillist mock already running at this URL instead of starting one"
    group.addoption("--pointillist-mock-url", dest=URL_OPTION, default=None, help=help_text)
    parser.addini(URL_OPTION, help_text, default="")


def configured_url(config: pytest.Config) -> str | None:
    """The mock URL given on the command line (first) or in the ini file, if any."""
    url = config.getoption(URL_OPTION) or config.getini(URL_OPTION)
    return str(url).strip().rstrip("/") or None


def pytest_report_header(config: pytest.Config) -> str:
    url = configured_url(config)
    if url is None:
        return "pointillist-mock: in-memory mock started on first use of pointillist_mock"
    return f"pointillist-mock: {url}"


@pytest.fixture(scope="session")
def pointillist_mock_server(pytestconfig: pytest.Config) -> Iterator[str]:
    """The base URL of the mock shared by this test process (every test a tenant of its own)."""
    url = configured_url(pytestconfig)
    if url is not None:
        _check_answers(url)
        yield url
        return
    from mockserver.http.server import BackgroundServer

    with BackgroundServer(Settings(port=0)) as server:
        yield server.url


@pytest.fixture
def pointillist_mock(pointillist_mock_server: str) -> MockHandle:
    """A `MockHandle` on a tenant of this test's own (a fresh token): `event_url`, `headers`,
    `send`, `send_batch`, `events`, `wait_for`, `actor`, `stats`, `conflicts`, `rejected`,
    `reset`, `assert_received`, `assert_event`, `assert_nothing_rejected`, `inject_fault`,
    `faults`, `clear_faults`, `snapshot` (compare it with syrupy's `snapshot`)."""
    return MockHandle(pointillist_mock_server, f"test-{uuid.uuid4().hex}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    handle = getattr(item, "funcargs", {}).get("pointillist_mock")
    if report.failed and isinstance(handle, MockHandle):
        report.sections.append(
            ("pointillist-mock", f"url:   {handle.url}\ntoken: {handle.token}\n")
        )
    return report


@pytest.hookimpl(wrapper=True)
def pytest_assertrepr_compare(
    op: str, left: object, right: object
) -> Generator[None, list[list[str]], list[list[str]]]:
    """`assert pointillist_mock.snapshot() == snapshot` (syrupy) fails with the event-level
    diff: which event of which actor, which label or number changed. A wrapper, so that it
    replaces syrupy's line diff (its own hook runs first)."""
    from mockserver.plugin.snapshot_diff import explain

    others = yield  # every implementation's lines: pytest shows the first
    ours = explain(op, left, right)
    return others if ours is None else [ours, *others]


def _check_answers(url: str) -> None:
    """Fail every test that needs the mock, once and clearly, when nothing answers at `url`."""
    problem = None
    try:
        with urllib.request.urlopen(f"{url}/_mock/health", timeout=HEALTH_TIMEOUT) as response:
            if json.loads(response.read()) != {"status": "ok"}:
                problem = "its /_mock/health does not answer like a pointillist mock"
    except urllib.error.HTTPError as exc:
        problem = f"its /_mock/health answers {exc.code}: is it a pointillist mock?"
    except (urllib.error.URLError, OSError) as exc:
        problem = f"nothing answers ({getattr(exc, 'reason', exc)})"
    except ValueError:
        problem = "its /_mock/health does not answer JSON: is it a pointillist mock?"
    if problem is not None:
        pytest.fail(f"pointillist-mock at {url}: {problem}; start it with `pointillist-mock "
                    "serve`, or unset --pointillist-mock-url / pointillist_mock_url",
                    pytrace=False)
