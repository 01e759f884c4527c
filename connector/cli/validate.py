"""`segment-connector validate FILE --plan PLAN`: a JSON-lines capture against a tracking plan,
offline, for CI. One line per violation (line number, messageId, kind, path, message), then the
unplanned properties apart (not violations in Protocols), a summary table per event; exit 0
clean, 1 with violations (or unplanned properties, with --fail-on-unplanned-properties), 2 for
unreadable lines (each reported, the rest still checked), a plan that cannot be used, or a usage
error. `--junit-xml OUT`: one test case per message, failed by its violations.

`--coverage` adds the plan's coverage by the file (connector/plans/coverage.py): a table of the
planned events and their never-seen properties, then `events 12/15, properties 48/61`;
`--min-coverage EVENTS[,PROPERTIES]` (percent, implies --coverage) exits 1 below it, one line
naming what is missing; with --junit-xml, a second test suite holds one test case per planned
event (failed when never seen, its planned properties in the message)."""

from __future__ import annotations

import argparse
import json
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from connector.errors import PlanError
from connector.plans import Findings, Plan, Violation, check, load_plan, plan_summary
from connector.plans.checking import event_name
from connector.plans.coverage import Coverage, below, parse_minimum, report, table, tally_messages
from httpkit.arguments import input_file, output_file, readable_file

if TYPE_CHECKING:
    from .common import Subparsers

# The summary's columns: Protocols' violation kinds, then the unplanned properties (apart).
COLUMNS = ("unplanned_event", "required", "invalid_type", "invalid_value", "unplanned_property")


def add_validate(subcommands: Subparsers) -> None:
    parser = subcommands.add_parser(
        "validate",
        help="check a JSONL file of Segment messages against a tracking plan (Protocols)",
        description="Check every Segment message of FILE (one JSON object per line, as "
        "fixtures/ hold them) against PLAN, the way Segment Protocols does: prints one line per "
        "violation, the unplanned properties apart, and a summary per event. Exit status: 0 no "
        "violation, 1 violations, 2 unreadable lines, an unusable plan, or a usage error.",
    )
    parser.add_argument("file", metavar="FILE.jsonl", type=input_file,
                        help="Segment messages, or - for stdin")
    parser.add_argument("--plan", required=True, metavar="PLAN", type=readable_file,
                        help="the tracking plan: a Config API export, a Public API rules list "
                        "(Typewriter's plan.json too) or the short YAML form (README: Tracking "
                        "plans)")
    parser.add_argument("--fail-on-unplanned-properties", action="store_true",
                        help="exit 1 on unplanned properties or traits too (in Protocols they "
                        "are no violation: by default they are listed apart)")
    parser.add_argument("--junit-xml", default=None, metavar="OUT", type=output_file,
                        help="also write a JUnit XML report: one test case per message (- for "
                        "standard output, after the report)")
    parser.add_argument("--coverage", action="store_true",
                        help="also print the plan's coverage: which planned events (and their "
                        "properties) the file has, and which it never has")
    parser.add_argument("--min-coverage", default=None, metavar="EVENTS[,PROPERTIES]",
                        type=_minimum,
                        help="exit 1 when the event coverage (and the property coverage, when "
                        "given) is below these percentages, e.g. 100 or 90,75 (implies "
                        "--coverage)")
    parser.set_defaults(handler=run_validate)


def _minimum(text: str) -> tuple[float, float | None]:
    try:
        return parse_minimum(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


@dataclass
class Outcome:
    """What one run found: per line, the message's violations; unreadable lines apart."""

    checked: list[tuple[int, dict[str, Any], Findings]] = field(default_factory=list)
    unreadable: list[tuple[int, str]] = field(default_factory=list)
    fail_on_unplanned: bool = False

    def failing(self, found: Findings) -> list[Violation]:
        """What fails a message: its violations, and its unplanned properties when asked."""
        return [*found.violations, *(found.unplanned if self.fail_on_unplanned else [])]

    @property
    def violations(self) -> int:
        return sum(len(found.violations) for _, _, found in self.checked)

    @property
    def unplanned(self) -> int:
        return sum(len(found.unplanned) for _, _, found in self.checked)


def validate_lines(lines: TextIO, plan: Plan, fail_on_unplanned: bool = False) -> Outcome:
    outcome = Outcome(fail_on_unplanned=fail_on_unplanned)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            message = json.loads(line)
        except ValueError as exc:
            outcome.unreadable.append((number, f"not JSON ({exc})"))
            continue
        if not isinstance(message, dict):
            outcome.unreadable.append((number, f"a JSON {type(message).__name__}, not an object"))
            continue
        outcome.checked.append((number, message, check(message, plan)))
    return outcome


def run_validate(args: argparse.Namespace) -> int:
    try:
        plan = load_plan(args.plan)
    except PlanError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    try:
        if args.file == "-":
            outcome = validate_lines(sys.stdin, plan, args.fail_on_unplanned_properties)
        else:
            with open(args.file, encoding="utf-8", errors="replace") as lines:
                outcome = validate_lines(lines, plan, args.fail_on_unplanned_properties)
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"plan {plan.name}: {plan_summary(plan)}")
    for number, message, found in outcome.checked:
        for violation in found.violations:
            print(_line(number, message, violation))
    if outcome.unplanned:
        print(f"unplanned properties ({outcome.unplanned}; not violations in Protocols"
              + ("" if outcome.fail_on_unplanned else
                 ", --fail-on-unplanned-properties fails on them") + "):")
        for number, message, found in outcome.checked:
            for violation in found.unplanned:
                print(_line(number, message, violation))
    for number, reason in outcome.unreadable:
        print(f"line {number}: unreadable: {reason}")
    print(summary_table(outcome))
    coverage = None
    short: list[str] = []
    if args.coverage or args.min_coverage is not None:
        coverage = report(plan, tally_messages((m for _, m, _ in outcome.checked), plan))
        print(f"coverage of the plan {plan.name}:")
        for line in table(coverage):
            print(line)
        short = [] if args.min_coverage is None else below(coverage, args.min_coverage)
        for line in short:
            print(f"coverage: {line}")
    if args.junit_xml is not None:
        write_junit(outcome, plan, args.junit_xml, args.file, coverage)
    if outcome.unreadable:
        return 2
    failed = any(outcome.failing(found) for _, _, found in outcome.checked)
    return 1 if failed or short else 0


def _line(number: int, message: dict[str, Any], violation: Violation) -> str:
    text = violation.message.removeprefix(f"{violation.path}: ")
    return (f"line {number}: {message.get('messageId')} {violation.kind} "
            f"{violation.path or '-'}: {text}")


def summary_table(outcome: Outcome) -> str:
    """Per event (track/page/screen name, or the call type): messages, failing ones,
    violations by kind and unplanned properties; a total line."""
    messages: Counter[str] = Counter()
    failing: Counter[str] = Counter()
    kinds: dict[str, Counter[str]] = {}
    for _, message, found in outcome.checked:
        name = event_name(message) or str(message.get("type"))
        messages[name] += 1
        failing[name] += bool(outcome.failing(found))
        kinds.setdefault(name, Counter()).update(v.kind for v in found.all())
    headers = ["event", "messages", "failing", *COLUMNS]
    rows = [[name, str(messages[name]), str(failing[name]),
             *(str(kinds[name][kind]) for kind in COLUMNS)] for name in sorted(messages)]
    total_kinds = Counter[str]()
    for counts in kinds.values():
        total_kinds.update(counts)
    rows.append(["total", str(sum(messages.values())), str(sum(failing.values())),
                 *(str(total_kinds[kind]) for kind in COLUMNS)])
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    lines = ["  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                       for i, cell in enumerate(row)).rstrip() for row in [headers, *rows]]
    lines.append(f"{outcome.violations} violation(s) in {sum(failing.values())} of "
                 f"{sum(messages.values())} message(s); {outcome.unplanned} unplanned "
                 f"propert{'y' if outcome.unplanned == 1 else 'ies'}; "
                 f"{len(outcome.unreadable)} unreadable line(s)")
    return "\n".join(lines)


def write_junit(outcome: Outcome, plan: Plan, out: Path, source: str,
                coverage: Coverage | None = None) -> None:
    """One suite of the messages; with coverage, <testsuites> with a second one of the plan's
    events."""
    suite = ET.Element("testsuite", name=f"tracking plan {plan.name}")
    failures = errors = 0
    for number, message, found in outcome.checked:
        name = event_name(message) or str(message.get("type"))
        case = ET.SubElement(suite, "testcase", classname=source,
                             name=f"line {number}: {name} ({message.get('messageId')})")
        failed = outcome.failing(found)
        if failed:
            failures += 1
            failure = ET.SubElement(case, "failure", type="tracking_plan_violation",
                                    message=f"{len(failed)} violation(s)")
            failure.text = "\n".join(f"{v.kind} {v.path}: {v.message}" for v in failed)
    for number, reason in outcome.unreadable:
        errors += 1
        case = ET.SubElement(suite, "testcase", classname=source, name=f"line {number}")
        ET.SubElement(case, "error", type="unreadable_line", message=reason)
    suite.set("tests", str(len(outcome.checked) + len(outcome.unreadable)))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    root = suite
    if coverage is not None:
        root = ET.Element("testsuites")
        root.extend([suite, coverage_suite(coverage)])
    tree = ET.ElementTree(root)
    if str(out) == "-":  # after the report, on standard output
        sys.stdout.flush()
        tree.write(sys.stdout.buffer, encoding="utf-8", xml_declaration=True)
        sys.stdout.buffer.write(b"\n")
        sys.stdout.flush()
    else:
        tree.write(out, encoding="utf-8", xml_declaration=True)


def coverage_suite(coverage: Coverage, classname: str | None = None) -> ET.Element:
    """One test case per planned event: passed when seen, failed when never seen (its planned
    properties in the message); a seen event's never-seen properties in its system-out. The
    totals as <properties>."""
    suite = ET.Element("testsuite", name=f"tracking plan {coverage.plan} coverage")
    props = ET.SubElement(suite, "properties")
    (events, planned), (seen, listed) = coverage.events, coverage.properties
    for name, value in (("events_seen", events), ("events_planned", planned),
                        ("properties_seen", seen), ("properties_planned", listed)):
        ET.SubElement(props, "property", name=name, value=str(value))
    for row in coverage.rows:
        case = ET.SubElement(suite, "testcase", name=row.label,
                             classname=classname or f"coverage.{coverage.plan}")
        if not row.messages:
            listed_props = ", ".join(row.planned) or "none"
            failure = ET.SubElement(case, "failure", type="never_seen",
                                    message=f"{row.label} was never seen; planned properties "
                                    f"never seen: {listed_props}")
            failure.text = "\n".join(row.planned)
        elif row.missing:
            out = ET.SubElement(case, "system-out")
            out.text = "planned properties never seen: " + ", ".join(row.missing)
    suite.set("tests", str(planned))
    suite.set("failures", str(planned - events))
    suite.set("errors", "0")
    return suite
