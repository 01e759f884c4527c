"""`segment-connector audiences sync`: replay traffic through the Engage simulator."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from connector.config import (
    DEFAULT_ACTOR_TYPE,
    SEND_UNREACHABLE_AFTER,
    DeliveryConfig,
    MappingSettings,
)
from connector.errors import ConfigError
from connector.pipeline import plan, read_jsonl
from connector.times import format_millis
from connector.traffic.generate import encode_jsonl
from httpkit.arguments import input_file, output_file, readable_file

from .common import count, instant
from .send import FAILURES_SHOWN, send_with_progress, summary_lines

if TYPE_CHECKING:
    from connector.engage.definitions import Definitions
    from connector.engage.schedule import Replay

    from .common import Subparsers


def add_audiences(subcommands: Subparsers) -> None:
    parser = subcommands.add_parser(
        "audiences",
        help="simulate Engage audiences and computed traits over Segment traffic",
        description="Engage (Personas) simulator: audiences and computed traits, defined in a "
        "YAML or JSON file (docs/connector.md, 'Engage audiences', gives the format; "
        "fixtures/audiences.yaml is an example), synced over Segment traffic.",
    )
    commands = parser.add_subparsers(dest="audiences_command", required=True, metavar="COMMAND")
    sync = commands.add_parser(
        "sync",
        help="replay traffic in simulated time, syncing every interval, and deliver the "
        "audience and trait messages",
        description="Observe the Segment messages of the traffic file in timestamp order and "
        "run an Engage sync every INTERVAL of simulated time (at the multiples of INTERVAL "
        "since the Unix epoch, from the first message to the last one; --start/--until move "
        "the ends). Each sync emits an identify (or, with --emit track, Audience Entered/"
        "Exited and Trait Computed tracks) per profile whose value changed; they are mapped "
        "and delivered like `send` delivers. Exit 1 when a line is unreadable or a delivery "
        "failed, 2 for a usage error (invalid definitions included).",
    )
    sync.add_argument("--definitions", required=True, metavar="FILE", type=readable_file,
                      help="audiences and computed traits, YAML or JSON")
    sync.add_argument("--traffic", required=True, metavar="FILE.jsonl", type=input_file,
                      help="Segment messages, one JSON object per line (- for stdin)")
    sync.add_argument("--every", required=True, metavar="INTERVAL",
                      help="simulated time between syncs: 3h, 30m, 1d, 2h30m ...")
    sync.add_argument("--start", type=instant, default=None,
                      help="the first sync (default: the first multiple of INTERVAL at or "
                      "after the first message)")
    sync.add_argument("--until", type=instant, default=None,
                      help="no sync after this instant (default: the first multiple of "
                      "INTERVAL at or after the last message)")
    sync.add_argument("--emit", choices=("identify", "track"), default=None,
                      help="emit every definition in this form (default: as the file says; "
                      "identify unless it says emit: track)")
    sync.add_argument("--with-traffic", action="store_true",
                      help="deliver the traffic too, each message before the syncs that saw it")
    sync.add_argument("--out", type=output_file, default=None, metavar="FILE.jsonl",
                      help="also write what would be delivered as JSONL (- for stdout)")
    sync.add_argument("--url", default=None,
                      help="Pointillist base URL (e.g. the mock's); needed unless --out")
    sync.add_argument("--token", default=None, metavar="T", help="the Pointillist API token")
    sync.add_argument("--actor-type", default=DEFAULT_ACTOR_TYPE, metavar="TYPE",
                      help=f"actor type of the identifiers (default {DEFAULT_ACTOR_TYPE})")
    sync.add_argument("--batch", action="store_true",
                      help="use the mock's POST /events batch extension")
    sync.add_argument("--concurrency", type=count(1), default=8, metavar="N",
                      help="requests in flight at once (default 8)")
    sync.add_argument("--max-retries", type=count(0), default=5, metavar="N",
                      help="retries of a 429, 5xx or connection failure (default 5)")
    sync.set_defaults(handler=run_audiences_sync)


def run_audiences_sync(args: argparse.Namespace) -> int:
    from connector.engage.definitions import load_definitions, with_emit
    from connector.engage.schedule import parse_interval, replay
    from connector.engage.simulator import EngageSimulator
    from connector.pipeline import Unreadable, numbered

    prog = "segment-connector audiences sync"
    try:
        definitions = load_definitions(args.definitions)
        if args.emit is not None:
            definitions = with_emit(definitions, args.emit)
        every = parse_interval(args.every)
        if args.url is None and args.out is None:
            raise ConfigError("give --url and --token to deliver, or --out to write a file")
        config = None
        if args.url is not None:
            if args.token is None:
                raise ConfigError("--url needs --token")
            config = DeliveryConfig(url=args.url, token=args.token,
                                    concurrency=args.concurrency,
                                    max_retries=args.max_retries, batch=args.batch,
                                    unreachable_after=SEND_UNREACHABLE_AFTER)
        settings = MappingSettings(actor_type=args.actor_type)
    except ConfigError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    try:
        if args.traffic == "-":
            items = list(read_jsonl(sys.stdin.buffer))
        else:
            with Path(args.traffic).open("rb") as lines:
                items = list(read_jsonl(lines))
    except OSError as exc:
        print(f"{prog}: cannot read {args.traffic}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    unreadable = [(line, value) for line, value in items if isinstance(value, Unreadable)]
    for line, value in unreadable[:FAILURES_SHOWN]:
        print(f"line {line}: invalid_json: {value.reason}", file=sys.stderr)
    simulator = EngageSimulator(definitions)
    try:
        result = replay(simulator, (v for _, v in items if not isinstance(v, Unreadable)),
                        every, args.start, args.until, with_traffic=args.with_traffic)
    except ConfigError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    print("\n".join(audience_lines(result, definitions)), flush=True)
    ok = not unreadable
    if args.out is not None:
        data = encode_jsonl(result.outgoing)
        if str(args.out) == "-":
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        else:
            try:
                args.out.write_bytes(data)
            except OSError as exc:
                print(f"{prog}: cannot write {args.out}: {exc}", file=sys.stderr)
                return 1
    if config is not None:
        planned = plan(numbered(result.outgoing), settings)
        try:
            summary = asyncio.run(send_with_progress(planned, config))
        except KeyboardInterrupt:
            print(f"{prog}: interrupted", file=sys.stderr)
            return 130
        for failure in summary.failures[:FAILURES_SHOWN]:
            print(failure.describe(), file=sys.stderr)
        print("\n".join(summary_lines(summary)), flush=True)
        ok = ok and summary.ok
    return 0 if ok else 1


def audience_lines(result: Replay, definitions: Definitions) -> list[str]:
    """What the syncs did: their span, then per definition the true/false (or value) counts."""
    syncs = result.syncs
    if syncs:
        span = (f"{len(syncs)} syncs from {format_millis(syncs[0].at)} to "
                f"{format_millis(syncs[-1].at)}, {result.emitted} messages")
    else:
        span = "0 syncs: the traffic holds no message with a readable timestamp"
    counts: dict[str, Counter[str]] = {d.key: Counter() for d in definitions.all}
    for run in syncs:
        for message in run.messages:
            key = message["context"]["personas"]["computation_key"]
            value = (message.get("traits") or message.get("properties") or {})[key]
            outcome = "changed" if not isinstance(value, bool) else (
                "entered" if value else "exited")
            counts[key][outcome] += 1
    header = ("definition", "class", "entered", "exited", "changed")
    rows = []
    for d in definitions.all:
        got = counts[d.key]
        if d.computation_class == "audience":
            rows.append((d.key, "audience", str(got["entered"]), str(got["exited"]), ""))
        else:
            rows.append((d.key, "trait", "", "", str(got["changed"])))
    width = max(len(header[0]), *(len(row[0]) for row in rows))
    lines = [span, f"{header[0]:<{width}} {header[1]:<8} {header[2]:>7} {header[3]:>7} "
             f"{header[4]:>7}"]
    lines += [f"{r[0]:<{width}} {r[1]:<8} {r[2]:>7} {r[3]:>7} {r[4]:>7}" for r in rows]
    if result.unusable or result.after:
        lines.append(f"not replayed: {result.unusable} without a readable timestamp, "
                     f"{result.after} after the last sync")
    return lines
