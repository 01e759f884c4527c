"""`segment-connector replay CAPTURE --compare-with SNAPSHOT`: what Pointillist would receive
from a capture under these settings, as a diff against a snapshot: the loop to run before
changing the gateway's settings or upgrading.

A composer (it starts a mock): a throw-away in-memory mock on a free loopback port; the captured
messages (gateway --capture, or any fixtures/ file) go through the tracking-plan options given
(the gateway's gate: checking.check and enforcing.enforce), are mapped with the mapping options
given and delivered, as the gateway's worker delivers them; then the tenant's snapshot is diffed
against SNAPSHOT (mockserver/review: a snapshot file, an export). No gateway is started: the
messages were enriched when they were captured, and enriching them again would correct their
timestamps against the replay's clock (tracking.enrich), so a replay would depend on when it
ran. The snapshot orders events by event time, so delivering several at once keeps it
deterministic: replaying the same capture twice gives an empty diff.

Exit status: 0 no difference, 1 differences (or messages that failed), 2 a usage error or a
file that cannot be read.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from connector.config import DEFAULT_ACTOR_TYPE, DeliveryConfig, MappingSettings
from connector.errors import ConfigError
from httpkit.arguments import input_file, output_file, whole

if TYPE_CHECKING:
    from mockserver.review import Snapshot

    from .common import Subparsers

PROG: Final = "segment-connector replay"
TOKEN: Final = "replay"


def add_replay(subcommands: Subparsers) -> None:
    from mockserver.review.render import FORMATS

    parser = subcommands.add_parser(
        "replay", help="replay a capture into a throw-away mock and diff what it received "
        "against a snapshot",
        description="Replays CAPTURE (a gateway --capture file, or any JSONL of Segment "
        "messages) into a throw-away mock with the settings given, and diffs the tenant's "
        "snapshot against SNAPSHOT: events added, removed and changed per actor. Exit 1 when "
        "they differ.")
    parser.add_argument("capture", metavar="CAPTURE", type=input_file,
                        help="the captured messages (JSON lines)")
    parser.add_argument("--compare-with", required=True, metavar="SNAPSHOT",
                        help="a snapshot (pointillist-mock snapshot, GET /_mock/snapshot) or an "
                        "export to compare with")
    parser.add_argument("--out", type=output_file, default=None, metavar="FILE",
                        help="also write the replay's snapshot here (the next baseline)")
    parser.add_argument("--format", choices=FORMATS, default="text",
                        help="text (default), json, or markdown for a pull-request comment")
    parser.add_argument("--drop-event-times", action="store_true",
                        help="compare without eventTime")
    mapping = parser.add_argument_group("gateway options (as `segment-connector gateway`)")
    mapping.add_argument("--actor-type", default=DEFAULT_ACTOR_TYPE, metavar="TYPE",
                         help=f"actor type of the identifiers (default {DEFAULT_ACTOR_TYPE})")
    mapping.add_argument("--map-page-screen", action="store_true",
                         help="deliver page/screen calls as 'Viewed <name> Page|Screen' events")
    mapping.add_argument("--max-label-length", type=whole(1), default=None, metavar="N",
                         help="leave out label values longer than N characters")
    mapping.add_argument("--tracking-plan", default=None, metavar="PLAN",
                         help="a tracking plan (Segment Protocols' format) to check messages "
                         "against")
    mapping.add_argument("--block-unplanned-events", action="store_true")
    mapping.add_argument("--omit-unplanned-properties", action="store_true")
    mapping.add_argument("--omit-unplanned-traits", action="store_true")
    mapping.add_argument("--on-violation", choices=("forward", "omit", "block"),
                         default="forward")
    parser.set_defaults(handler=run_replay)


def run_replay(args: argparse.Namespace) -> int:
    from mockserver.review import diff
    from mockserver.review.render import render
    from mockserver.review_commands import Unreadable, read_source

    keep_times = not args.drop_event_times
    try:
        expected = read_source(args.compare_with, None, keep_times)
        settings = MappingSettings(actor_type=args.actor_type,
                                   map_page_screen=args.map_page_screen,
                                   max_label_length=args.max_label_length)
        messages = _gated(_read(Path(args.capture)), args)
    except (Unreadable, ConfigError, OSError, ValueError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    replayed, failures = asyncio.run(replay(messages, settings, keep_times))
    for failure in failures:
        print(f"{PROG}: {failure}", file=sys.stderr)
    if args.out is not None:
        args.out.write_text(replayed.text, encoding="utf-8")
    result = diff(expected, replayed)
    sys.stdout.write(render(result, args.format))
    return 0 if result.empty else 1  # failures are the capture's, noted above


def _read(path: Path) -> list[Any]:
    from connector.pipeline import read_jsonl

    with path.open("rb") as lines:
        return [message for _, message in read_jsonl(lines)]


def _gated(messages: list[Any], args: argparse.Namespace) -> list[Any]:
    """The messages a gateway with this tracking plan would have accepted, as it forwards
    them (blocked ones left out, unplanned properties omitted ...)."""
    if args.tracking_plan is None:
        return messages
    from connector.plans import ProtocolsSettings, evaluate, load_plan

    plan = load_plan(args.tracking_plan)
    protocols = ProtocolsSettings(
        unplanned_events="block" if args.block_unplanned_events else "forward",
        unplanned_properties="omit" if args.omit_unplanned_properties else "forward",
        unplanned_traits="omit" if args.omit_unplanned_traits else "forward",
        violations=args.on_violation)
    kept: list[Any] = []
    for message in messages:  # as the gateway's door applies the plan (gateway/planning.py)
        if not isinstance(message, dict):
            kept.append(message)
            continue
        verdict = evaluate(message, plan, protocols)
        if verdict.message is not None:
            kept.append(verdict.message)
    return kept


async def replay(messages: list[Any], settings: MappingSettings,
                 event_times: bool = True) -> tuple[Snapshot, list[str]]:
    """Deliver `messages`, mapped with `settings`, to a throw-away mock; its snapshot and the
    failures (one line each)."""
    import aiohttp

    from connector.client import DeliveryClient
    from connector.pipeline import deliver, numbered, plan
    from mockserver.http.server import serving
    from mockserver.review import parse_snapshot
    from mockserver.settings import Settings

    planned = plan(numbered(messages), settings)
    async with serving(Settings(port=0)) as mock, aiohttp.ClientSession() as session:
        summary = await deliver(planned, DeliveryClient(session, DeliveryConfig(
            url=mock, token=TOKEN, unreachable_after=10.0)))
        times = "keep" if event_times else "drop"
        async with session.get(f"{mock}/_mock/snapshot", params={"eventTimes": times},
                               headers={"apiToken": TOKEN}) as response:
            text = await response.text()
    return parse_snapshot(text), [failure.describe() for failure in summary.failures]
