"""Browser tests: Debian's Chromium (never a downloaded browser) driven by playwright.

One headless Chromium per test module, one in-memory mock per session, and for each test a
fresh token (its own tenant) and a fresh browser context (its own storage). Module, not session:
playwright's sync API keeps its event loop marked as running in this thread while it is open,
so it must be closed before pytest moves on to the asyncio tests of other modules.
Console errors and uncaught page errors fail the test that caused them. Screenshots go to
test-artifacts/browser/ (git-ignored), one per test or per view.

Chromium must be there: CI installs it (.ci/run), and these tests fail rather than skip
without it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, sync_playwright

from mockserver.http.server import BackgroundServer
from mockserver.plugin.handle import MockHandle
from mockserver.settings import Settings

CHROMIUM = Path(os.environ.get("POINTILLIST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    # A container's /dev/shm is often 64 MB, too small for Chromium: use /tmp instead.
    "--disable-dev-shm-usage",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y "
                    "chromium; .ci/run does) or set POINTILLIST_CHROMIUM")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def mock_server() -> Iterator[str]:
    with BackgroundServer(Settings(port=0)) as server:
        yield server.url


@pytest.fixture
def mock(mock_server: str) -> MockHandle:
    """A fresh tenant of the session's mock."""
    return MockHandle(mock_server, f"t-{uuid.uuid4().hex}")


@pytest.fixture
def console_errors() -> list[str]:
    return []


@pytest.fixture
def page(browser: Browser, console_errors: list[str]) -> Iterator[Page]:
    """A desktop-sized page in light mode; it must log no console error."""
    context = browser.new_context(viewport=DESKTOP, color_scheme="light")
    opened = context.new_page()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            console_errors.append(f"console: {message.text} ({message.location})")

    opened.on("console", on_console)
    opened.on("pageerror", lambda error: console_errors.append(f"page error: {error}"))
    yield opened
    context.close()
    assert console_errors == []


def screenshot(page: Page, name: str, full_page: bool = False) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


@pytest.fixture
def requests(page: Page) -> Iterator[list[str]]:
    """Every request the page's context makes ("METHOD path"); one off 127.0.0.1 fails the
    test. (Seen, not intercepted: a route handler runs only while playwright has the thread, and
    the test waits on the mock's API in between.)"""
    made: list[str] = []
    outside: list[str] = []

    def record(request: Request) -> None:
        url = urlsplit(request.url)
        if url.scheme != "data" and url.hostname != "127.0.0.1":
            outside.append(request.url)
        made.append(f"{request.method} {url.path}")

    page.context.on("request", record)
    yield made
    assert outside == []
