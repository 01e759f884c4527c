"""pytest fixtures for testing a Pointillist integration against the mock.

`pointillist_mock_server` (session) starts one in-memory mock per test process; each test's
`pointillist_mock` gets a fresh token, hence its own tenant: parallel tests (pytest-xdist)
never see each other's data and nothing needs a global reset.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from .server import BackgroundServer
from .settings import Settings
from .testing import MockHandle

URL_OPTION = "pointillist_mock_url"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pointillist-mock")
    help_text = "use the mock already running at this URL instead of starting one"
    group.addoption("--pointillist-mock-url", dest=URL_OPTION, default=None, help=help_text)
    parser.addini(URL_OPTION, help_text, default="")


@pytest.fixture(scope="session")
def pointillist_mock_server(request: pytest.FixtureRequest) -> Iterator[str]:
    """The base URL of the mock shared by this test session."""
    url = request.config.getoption(URL_OPTION) or request.config.getini(URL_OPTION)
    if url:
        yield str(url).rstrip("/")
        return
    with BackgroundServer(Settings(port=0)) as server:
        yield server.url


@pytest.fixture
def pointillist_mock(pointillist_mock_server: str) -> MockHandle:
    """A handle on a tenant of its own: `url`, `token`, `events()`, `actor()`, `wait_for()`…"""
    return MockHandle(pointillist_mock_server, f"test-{uuid.uuid4().hex}")
