"""Shared fixtures: real mock servers on 127.0.0.1 with ephemeral ports, and an HTTP client."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web

from mockserver.http import server
from mockserver.http.app import create_app
from mockserver.http.server import serving
from mockserver.settings import Settings

StartMock = Callable[..., AbstractAsyncContextManager[str]]

# Helper modules (tests/helpers/, and each folder's modules not named test_* or conftest) hold
# asserts too: pytest rewrites them as it does test modules, so a failing check shows its values.
# Registered here, before any test module imports them.
_TESTS = Path(__file__).resolve().parent
pytest.register_assert_rewrite(*sorted(
    ".".join(path.relative_to(_TESTS.parent).with_suffix("").parts)
    for path in _TESTS.rglob("*.py")
    if not path.name.startswith(("test_", "conftest", "__init__"))
    and "node_modules" not in path.parts
))


@pytest.fixture
def start_mock() -> StartMock:
    """`async with start_mock(db=..., tokens=...) as url:` runs a mock with those settings."""

    def start(**overrides: Any) -> AbstractAsyncContextManager[str]:
        return serving(replace(Settings(port=0), **overrides))

    return start


@pytest.fixture
async def mock_url(start_mock: StartMock) -> AsyncIterator[str]:
    """An in-memory mock for one test."""
    async with start_mock() as url:
        yield url


@pytest.fixture
def token() -> str:
    return f"t-{uuid.uuid4().hex}"


@pytest.fixture
async def http(token: str) -> AsyncIterator[ClientSession]:
    """A client that sends this test's token."""
    async with ClientSession(headers={"apiToken": token}) as session:
        yield session


@pytest.fixture
def apps(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[web.Application]]:
    """Every app `start_mock` creates, so a test can look inside it (its feed, its work)."""
    made: list[web.Application] = []

    def capture(settings: Settings | None = None) -> web.Application:
        made.append(create_app(settings))
        return made[-1]

    monkeypatch.setattr(server, "create_app", capture)
    yield made


def make_event(**overrides: Any) -> dict[str, Any]:
    """A valid event; keyword arguments replace its fields."""
    event: dict[str, Any] = {
        "eventSource": "Segment",
        "eventType": "Order Completed",
        "eventTime": "2026-11-28T10:00:00.000Z",
        "actors": {"Customer": {"userId": "u_1", "anonymousId": "a_9"}},
        "labels": {"plan": "pro", "campaign.source": "newsletter"},
        "numbers": {"revenue": 42.5},
        "location": {"city": "Paris", "country": "France"},
    }
    event.update(overrides)
    return event



def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """schemathesis gives every operation of one test the same node id (its name holds the
    operation: `test_x[POST /event]`); pytest's progress counts ids and stopped at 96 %. A
    shared id becomes the item's own name under its parent, as pytest would have made it."""
    counts: dict[str, int] = {}
    for item in items:
        counts[item.nodeid] = counts.get(item.nodeid, 0) + 1
    for item in items:
        if counts[item.nodeid] < 2 or item.parent is None:
            continue
        if hasattr(item, "_id") and hasattr(item.parent, "id"):  # pytest 9
            item._id = item.parent.id.child(item.name)
        else:  # pytest 8 keeps the id as a string
            item._nodeid = f"{item.parent.nodeid}::{item.name}"
