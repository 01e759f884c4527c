"""The `segment_gateway` fixture's plan coverage for a whole pytest session (hooks; see
pytest_plugin.py, which registers them).

- Each process that started the session's gateway reads GET /_gateway/coverage once, when the
  gateway stops (the end of the session), and adds it to its tally; a pytest-xdist worker hands
  its tally to the controller (workeroutput), which adds every worker's up: the totals are the
  whole session's, whichever worker ran which test.
- With a plan configured, the terminal summary shows the table and the total line, the JUnit
  XML (--junitxml) gets them as testsuite properties (`segment_coverage_events` = `4/6` ...,
  one `segment_coverage: <event>` per planned event), and --segment-min-coverage
  EVENTS[,PROPERTIES] (ini segment_min_coverage) fails the session below it, naming the events
  never seen.
"""

from __future__ import annotations

import json
import urllib.request
from typing import TYPE_CHECKING, Any

import pytest

from .errors import PlanError

if TYPE_CHECKING:  # imported when used: a run without a plan never loads the plan checker
    from .plans import Plan
    from .plans.coverage import Coverage, Tally, Target

MIN_OPTION = "segment_min_coverage"
WORKER_KEY = "segment_gateway_coverage"
TALLY = pytest.StashKey["Tally"]()
RESULT = pytest.StashKey["tuple[Coverage, list[str]]"]()
PLANNED = pytest.StashKey["tuple[Plan, list[Target]] | None"]()


def planned(config: pytest.Config) -> tuple[Plan, list[Target]] | None:
    """The configured plan and its targets, loaded once per process (None: no plan).
    PlanError when it cannot be used."""
    if PLANNED not in config.stash:
        from .pytest_plugin import configured_plan  # its options; imported late (a cycle)

        path = configured_plan(config)
        if path is None:
            config.stash[PLANNED] = None
        else:  # a plan that cannot be used raises each time it is asked for
            from .plans import load_plan
            from .plans.coverage import targets

            plan = load_plan(path)
            config.stash[PLANNED] = (plan, targets(plan))
    return config.stash[PLANNED]


def add_options(parser: pytest.Parser, group: Any) -> None:
    help_text = ("fail the session when the segment_gateway fixture's traffic covers less of "
                 "the tracking plan than EVENTS[,PROPERTIES] percent (e.g. 100 or 90,75)")
    group.addoption("--segment-min-coverage", dest=MIN_OPTION, default=None,
                    metavar="EVENTS[,PROPERTIES]", help=help_text)
    parser.addini(MIN_OPTION, help_text, default="")


def minimum(config: pytest.Config) -> tuple[float, float | None] | None:
    given = config.getoption(MIN_OPTION) or str(config.getini(MIN_OPTION)).strip()
    if not given:
        return None
    from .plans.coverage import parse_minimum

    try:
        return parse_minimum(given)
    except ValueError as exc:
        raise pytest.UsageError(f"--segment-min-coverage / segment_min_coverage: {exc}") from None


def pytest_configure(config: pytest.Config) -> None:
    minimum(config)  # a bad minimum is a usage error at once, not after the tests


def collect(config: pytest.Config, gateway_url: str) -> None:
    """At the gateway's end: what it covered, into this process's tally (and a worker's
    output). One GET; the tally is O(planned paths)."""
    request = urllib.request.Request(f"{gateway_url.rstrip('/')}/_gateway/coverage")
    with urllib.request.urlopen(request, timeout=30) as response:
        served = json.loads(response.read())
    known = planned(config)
    if served.get("plan") is None or known is None:
        return
    tally = from_report(served, known[1])
    tally_of(config).merge(tally)
    output = getattr(config, "workeroutput", None)
    if output is not None:
        output[WORKER_KEY] = tally_of(config).as_data()


def from_report(served: dict[str, Any], planned: list[Target]) -> Tally:
    """A served report back into a tally: a row's seen paths are its planned paths but the
    missing ones (counted once: only seen / never seen matters from here)."""
    from .plans.coverage import Tally

    paths = {target.item: target.paths for target in planned}
    tally = Tally()
    for row in served["events"]:
        item = (row["type"], row["event"], row["version"])
        if row["messages"] and item in paths:
            missing = set(row["missing"])
            tally.add(item, [p for p in paths[item] if p not in missing], row["messages"])
    return tally


def tally_of(config: pytest.Config) -> Tally:
    from .plans.coverage import Tally

    if TALLY not in config.stash:
        config.stash[TALLY] = Tally()
    return config.stash[TALLY]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """pytest-xdist's controller: a worker's tally added to the session's."""
    data = getattr(node, "workeroutput", {}).get(WORKER_KEY)
    if data is not None:
        from .plans.coverage import Tally

        tally_of(node.config).merge(Tally.from_data(data))


@pytest.hookimpl(tryfirst=True)  # before the JUnit XML is written
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if hasattr(config, "workerinput"):
        return  # a worker: the controller reports
    try:
        known = planned(config)
    except PlanError:  # every test that asked for the fixture failed with it
        return
    if known is None:
        return
    from .plans.coverage import below, report

    coverage = report(known[0], tally_of(config), known[1])
    wanted = minimum(config)
    short = [] if wanted is None else below(coverage, wanted)
    config.stash[RESULT] = (coverage, short)
    if short and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    _junit(config, coverage)


def _junit(config: pytest.Config, coverage: Coverage) -> None:
    from _pytest.junitxml import xml_key

    xml = config.stash.get(xml_key, None)
    if xml is None:
        return
    (events, planned), (props, listed) = coverage.events, coverage.properties
    xml.add_global_property("segment_coverage_plan", coverage.plan)
    xml.add_global_property("segment_coverage_events", f"{events}/{planned}")
    xml.add_global_property("segment_coverage_properties", f"{props}/{listed}")
    for row in coverage.rows:
        seen = (f"seen {row.messages} time{'s' if row.messages != 1 else ''}" if row.messages
                else "never seen")
        missing = f"; properties never seen: {', '.join(row.missing)}" if row.missing else ""
        xml.add_global_property(f"segment_coverage: {row.label}", seen + missing)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int,
                            config: pytest.Config) -> None:
    if RESULT not in config.stash:
        return
    from .plans.coverage import table

    coverage, short = config.stash[RESULT]
    terminalreporter.section(f"segment_gateway: coverage of the tracking plan {coverage.plan}")
    for line in table(coverage):
        terminalreporter.write_line(line)
    for line in short:
        terminalreporter.write_line(f"segment_gateway: {line}", red=True, bold=True)


__all__ = ["add_options", "collect", "from_report", "minimum", "planned", "pytest_configure",
           "pytest_sessionfinish",
           "pytest_terminal_summary", "pytest_testnodedown"]
