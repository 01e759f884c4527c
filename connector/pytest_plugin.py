"""The `segment_gateway` pytest fixture: a Segment-compatible gateway in front of the
`pointillist_mock` fixture's mock, checking a tracking plan, as Segment Protocols would.

Installed with the package (entry point `pytest11`), beside `pointillist_mock`:

    def test_checkout_tracks_as_planned(segment_gateway, pointillist_mock):
        run_checkout(segment_gateway.url, segment_gateway.write_key)  # the app's own SDK
        segment_gateway.assert_no_violations()
        segment_gateway.wait_for_delivery()
        pointillist_mock.assert_received(1, event_type="Order Completed")

One gateway per test session (per pytest-xdist worker), started on first use with an
in-memory outbox and --token-per-write-key: each test's write key is its `pointillist_mock`
token, so its messages land in its own tenant and its violations are its own. The plan comes
from `--segment-tracking-plan PATH` or the ini option `segment_tracking_plan` (relative to the
rootdir); without one, messages are forwarded unchecked and `assert_no_violations()` refuses
(it would prove nothing). The pytest header names the plan in use. A plan that cannot be used
fails every test that asks for the fixture, with every problem it has. Unplanned properties are
listed apart (`unplanned_properties()`); `--segment-fail-on-unplanned-properties` (or the ini
option `segment_fail_on_unplanned_properties = true`) makes them violations, so that
`assert_no_violations()` fails on them.

With a plan, the session reports its coverage (pytest_coverage.py): which planned events and
properties the tests sent, in the terminal summary and the JUnit XML, over every xdist worker;
`--segment-min-coverage EVENTS[,PROPERTIES]` (ini `segment_min_coverage`) fails below it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mockserver.plugin.handle import MockHandle

from .pytest_coverage import (
    add_options,
    collect,
    planned,
    pytest_configure,
    pytest_sessionfinish,
    pytest_terminal_summary,
    pytest_testnodedown,
)
from .testing import GatewayHandle, Violation

__all__ = ["GatewayHandle", "Violation", "pytest_configure", "pytest_sessionfinish",
           "pytest_terminal_summary",
           "pytest_testnodedown", "segment_gateway", "segment_gateway_server"]

PLAN_OPTION = "segment_tracking_plan"
UNPLANNED_OPTION = "segment_fail_on_unplanned_properties"
# What the session's gateway checks, for each test's handle: "<name> (<path>)", or None.
PLAN_IN_USE = pytest.StashKey[str | None]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("segment-gateway")
    help_text = "the tracking plan the segment_gateway fixture checks every message against"
    group.addoption("--segment-tracking-plan", dest=PLAN_OPTION, default=None, metavar="PATH",
                    help=help_text)
    parser.addini(PLAN_OPTION, help_text, default="")
    unplanned_help = ("the segment_gateway fixture counts unplanned properties and traits as "
                      "violations (assert_no_violations fails on them)")
    group.addoption("--segment-fail-on-unplanned-properties", dest=UNPLANNED_OPTION,
                    action="store_true", default=False, help=unplanned_help)
    parser.addini(UNPLANNED_OPTION, unplanned_help, type="bool", default=False)
    add_options(parser, group)


def fails_on_unplanned(config: pytest.Config) -> bool:
    return bool(config.getoption(UNPLANNED_OPTION) or config.getini(UNPLANNED_OPTION))


def configured_plan(config: pytest.Config) -> Path | None:
    """The plan given on the command line (first, relative to the cwd) or in the ini file
    (relative to the rootdir), if any."""
    given = config.getoption(PLAN_OPTION)
    if given:
        return Path(given)
    ini = str(config.getini(PLAN_OPTION)).strip()
    return config.rootpath / ini if ini else None


def pytest_report_header(config: pytest.Config) -> str:
    path = configured_plan(config)
    if path is None:
        return ("segment_gateway: no tracking plan (set one with --segment-tracking-plan PATH "
                f"or the ini option {PLAN_OPTION})")
    from .errors import PlanError
    from .plans import load_plan

    try:
        return f"segment_gateway: tracking plan {load_plan(path).name} ({path})"
    except PlanError as exc:
        return f"segment_gateway: tracking plan {path} cannot be used: {exc}"


@pytest.fixture(scope="session")
def segment_gateway_server(pytestconfig: pytest.Config, pointillist_mock_server: str) -> Iterator[
        str]:
    """The base URL of the gateway shared by this test process."""
    # Imported here, so a run that never uses the fixture skips aiohttp and the plan loader.
    from httpkit.serving import BackgroundServer

    from .config import DeliveryConfig
    from .errors import PlanError
    from .gateway.serving import serving
    from .gateway.settings import GatewaySettings
    from .plans import ProtocolsSettings

    try:
        known = planned(pytestconfig)
    except PlanError as exc:
        pytest.fail(f"segment_gateway: {exc}", pytrace=False)
    plan = None if known is None else known[0]
    pytestconfig.stash[PLAN_IN_USE] = (
        None if plan is None else f"{plan.name} ({configured_plan(pytestconfig)})")
    # The token below is never used: every message is delivered with its own write key.
    settings = GatewaySettings(
        delivery=DeliveryConfig(url=pointillist_mock_server, token="unused"), port=0,
        plan=plan, token_per_write_key=True,
        protocols=ProtocolsSettings(fail_on_unplanned_properties=fails_on_unplanned(pytestconfig)))
    with BackgroundServer(lambda: serving(settings), name="segment-gateway") as server:
        yield server.url
        if plan is not None:
            collect(pytestconfig, server.url)


@pytest.fixture
def segment_gateway(segment_gateway_server: str, pointillist_mock: MockHandle,
                    pytestconfig: pytest.Config) -> GatewayHandle:
    """A `GatewayHandle` for this test: `url`, `write_key` (delivering into this test's
    `pointillist_mock` tenant), `violations`, `assert_no_violations`, `wait_for_delivery`."""
    return GatewayHandle(segment_gateway_server, pointillist_mock.token,
                         plan=pytestconfig.stash.get(PLAN_IN_USE, None))
