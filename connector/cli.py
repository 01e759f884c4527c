"""`segment-connector`: one small function per subcommand (add_<name> + run_<name>)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp

from connector.client import DeliveryClient, DeliveryResult
from connector.config import DEFAULT_ACTOR_TYPE, DeliveryConfig, MappingSettings
from connector.errors import ConfigError
from connector.pipeline import Plan, Summary, deliver, plan, read_jsonl
from connector.times import format_millis
from connector.traffic.generate import (
    DEFAULT_START,
    TrafficSpec,
    encode_jsonl,
    generate,
    parse_start,
)

if TYPE_CHECKING:
    from connector.engage.definitions import Definitions
    from connector.engage.schedule import Replay

Handler = Callable[[argparse.Namespace], int]
if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    return handler(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segment-connector",
        description="Segment side of the Pointillist connector.",
    )
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_generate(subcommands)
    add_send(subcommands)
    add_gateway(subcommands)
    add_audiences(subcommands)
    return parser


# -- generate --------------------------------------------------------------------------------


def _count(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    return parse


def _instant(text: str) -> datetime:
    try:
        return parse_start(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO-8601 instant (e.g. 2026-01-01T00:00:00Z): {text!r}") from None


def add_generate(subcommands: Subparsers) -> None:
    parser = subcommands.add_parser(
        "generate",
        help="write seeded Segment traffic as JSONL",
        description="Write Segment messages (one JSON object per line, sorted by timestamp), "
        "as Segment's servers hand them to a destination. The same arguments give the "
        "same bytes.",
    )
    parser.add_argument("--seed", type=int, required=True, help="random seed")
    parser.add_argument("--users", type=_count(1), required=True, help="number of users")
    parser.add_argument("--days", type=_count(1), required=True,
                        help="days of traffic, from --start")
    parser.add_argument("--start", type=_instant, default=DEFAULT_START,
                        help="first instant of the period (default 2026-01-01T00:00:00Z)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output file (default: standard output)")
    parser.set_defaults(handler=run_generate)


def run_generate(args: argparse.Namespace) -> int:
    spec = TrafficSpec(seed=args.seed, users=args.users, days=args.days, start=args.start)
    messages = generate(spec)
    data = encode_jsonl(messages)
    if args.out is None or str(args.out) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return 0
    try:
        args.out.write_bytes(data)
    except OSError as exc:
        print(f"segment-connector generate: cannot write {args.out}: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {len(messages)} messages to {args.out}", file=sys.stderr)
    return 0


# -- send ------------------------------------------------------------------------------------

FAILURES_SHOWN = 20  # failure lines printed before "... and N more"


def add_send(subcommands: Subparsers) -> None:
    parser = subcommands.add_parser(
        "send",
        help="map a JSONL file of Segment messages and deliver the events to Pointillist",
        description="Map every Segment message of FILE (one JSON object per line) to a "
        "Pointillist event and POST it to URL/event with the apiToken header; messages the "
        "destination does not take are skipped. Shows progress on stderr and a summary table "
        "at the end; the exit status is 1 when any message failed (unreadable line, invalid "
        "message, or delivery), 2 for a usage error.",
    )
    parser.add_argument("file", metavar="FILE.jsonl", help="Segment messages, or - for stdin")
    parser.add_argument("--url", required=True,
                        help="Pointillist base URL, e.g. https://stream.pointillist.com or the "
                        "mock's http://127.0.0.1:8787")
    parser.add_argument("--token", required=True, metavar="T",
                        help="the Pointillist API token (apiToken)")
    parser.add_argument("--actor-type", default=DEFAULT_ACTOR_TYPE, metavar="TYPE",
                        help=f"actor type of the identifiers (default {DEFAULT_ACTOR_TYPE})")
    parser.add_argument("--map-page-screen", action="store_true",
                        help="send page/screen calls as 'Viewed <name> Page|Screen' events "
                        "instead of skipping them")
    parser.add_argument("--batch", action="store_true",
                        help="use the mock's POST /events batch extension (the real API has "
                        "none)")
    parser.add_argument("--concurrency", type=_count(1), default=8, metavar="N",
                        help="requests in flight at once (default 8)")
    parser.add_argument("--max-retries", type=_count(0), default=5, metavar="N",
                        help="retries of a 429, 5xx or connection failure, with backoff "
                        "(default 5)")
    parser.set_defaults(handler=run_send)


def run_send(args: argparse.Namespace) -> int:
    prog = "segment-connector send"
    try:
        settings = MappingSettings(actor_type=args.actor_type,
                                   map_page_screen=args.map_page_screen)
        config = DeliveryConfig(url=args.url, token=args.token, concurrency=args.concurrency,
                                max_retries=args.max_retries, batch=args.batch)
    except ConfigError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    try:
        planned = _read_plan(args.file, settings)
    except OSError as exc:
        print(f"{prog}: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    try:
        summary = asyncio.run(_send_with_progress(planned, config))
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    shown = summary.failures[:FAILURES_SHOWN]
    for failure in shown:
        print(failure.describe(), file=sys.stderr)
    if len(summary.failures) > len(shown):
        print(f"... and {len(summary.failures) - len(shown)} more failures", file=sys.stderr)
    print("\n".join(summary_lines(summary)), flush=True)
    return 0 if summary.ok else 1


def _read_plan(file: str, settings: MappingSettings) -> Plan:
    if file == "-":
        return plan(read_jsonl(sys.stdin.buffer), settings)
    with Path(file).open("rb") as lines:
        return plan(read_jsonl(lines), settings)


async def _send_with_progress(planned: Plan, config: DeliveryConfig) -> Summary:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    result = DeliveryResult()
    columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task("sending", total=len(planned.deliveries))
        done = asyncio.Event()

        async def track() -> None:  # refreshes the bar from the counts the client keeps
            while not done.is_set():
                progress.update(task, completed=result.sent + result.failed)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(done.wait(), 0.1)

        tracker = asyncio.create_task(track())
        try:
            async with aiohttp.ClientSession() as session:
                summary = await deliver(planned, DeliveryClient(session, config), result)
        finally:
            done.set()
            await tracker
        progress.update(task, completed=result.sent + result.failed)
    return summary


def summary_lines(summary: Summary) -> list[str]:
    """The summary table: one row for sent, one per skip reason and per failure reason."""
    rows: list[tuple[str, str, int]] = [("sent", "", summary.sent)]
    rows += [("skipped", reason, n) for reason, n in summary.skipped.items()] or [
        ("skipped", "", 0)]
    rows += [("failed", reason, n) for reason, n in summary.failed.items()] or [
        ("failed", "", 0)]
    rows.append(("total", "", summary.read))
    header = ("outcome", "reason", "messages")
    reason_width = max(len(header[1]), *(len(reason) for _, reason, _ in rows))
    count_width = max(len(header[2]), *(len(str(n)) for *_, n in rows))
    lines = [f"{header[0]:<8} {header[1]:<{reason_width}} {header[2]:>{count_width}}"]
    lines += [f"{outcome:<8} {reason:<{reason_width}} {n:>{count_width}}"
              for outcome, reason, n in rows]
    result = summary.result
    lines.append(f"{result.attempts} requests, {result.retries} retries, "
                 f"{result.duplicates} idempotent replays")
    return lines


# -- gateway ---------------------------------------------------------------------------------


def add_gateway(subcommands: Subparsers) -> None:
    from connector.gateway import settings as gateway_settings

    parser = subcommands.add_parser(
        "gateway",
        help="serve Segment's HTTP Tracking API and deliver to Pointillist",
        description="A Segment-compatible endpoint (POST /v1/batch, /v1/track ...): point a "
        "Segment SDK's host at it. Accepted messages are kept in a durable outbox and "
        "delivered, mapped, to the Pointillist URL; see GET /_gateway/stats.",
    )
    gateway_settings.add_arguments(parser)
    parser.set_defaults(handler=run_gateway)


def run_gateway(args: argparse.Namespace) -> int:
    from connector.errors import OutboxError
    from connector.gateway.serving import serve_until_stopped
    from connector.gateway.settings import settings_from_args

    prog = "segment-connector gateway"
    try:
        settings = settings_from_args(args)
    except ConfigError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2

    def announce(url: str) -> None:
        print(f"{prog} listening on {url} (outbox: {settings.outbox}; delivering to "
              f"{settings.delivery.url})", flush=True)

    try:
        asyncio.run(serve_until_stopped(settings, announce))
    except KeyboardInterrupt:
        pass
    except OutboxError as exc:
        print(f"{prog}: {exc.message}", file=sys.stderr)
        return 1
    return 0


# -- audiences -------------------------------------------------------------------------------


def add_audiences(subcommands: Subparsers) -> None:
    parser = subcommands.add_parser(
        "audiences",
        help="simulate Engage audiences and computed traits over Segment traffic",
        description="Engage (Personas) simulator. See connector/engage/simulator.py for the "
        "definitions format and the sync rules.",
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
    sync.add_argument("--definitions", required=True, metavar="FILE",
                      help="audiences and computed traits, YAML or JSON")
    sync.add_argument("--traffic", required=True, metavar="FILE.jsonl",
                      help="Segment messages, one JSON object per line (- for stdin)")
    sync.add_argument("--every", required=True, metavar="INTERVAL",
                      help="simulated time between syncs: 3h, 30m, 1d, 2h30m ...")
    sync.add_argument("--start", type=_instant, default=None,
                      help="the first sync (default: the first multiple of INTERVAL at or "
                      "after the first message)")
    sync.add_argument("--until", type=_instant, default=None,
                      help="no sync after this instant (default: the first multiple of "
                      "INTERVAL at or after the last message)")
    sync.add_argument("--emit", choices=("identify", "track"), default=None,
                      help="emit every definition in this form (default: as the file says; "
                      "identify unless it says emit: track)")
    sync.add_argument("--with-traffic", action="store_true",
                      help="deliver the traffic too, each message before the syncs that saw it")
    sync.add_argument("--out", type=Path, default=None, metavar="FILE.jsonl",
                      help="also write what would be delivered as JSONL (- for stdout)")
    sync.add_argument("--url", default=None,
                      help="Pointillist base URL (e.g. the mock's); needed unless --out")
    sync.add_argument("--token", default=None, metavar="T", help="the Pointillist API token")
    sync.add_argument("--actor-type", default=DEFAULT_ACTOR_TYPE, metavar="TYPE",
                      help=f"actor type of the identifiers (default {DEFAULT_ACTOR_TYPE})")
    sync.add_argument("--batch", action="store_true",
                      help="use the mock's POST /events batch extension")
    sync.add_argument("--concurrency", type=_count(1), default=8, metavar="N",
                      help="requests in flight at once (default 8)")
    sync.add_argument("--max-retries", type=_count(0), default=5, metavar="N",
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
                                    max_retries=args.max_retries, batch=args.batch)
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
            summary = asyncio.run(_send_with_progress(planned, config))
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


if __name__ == "__main__":
    sys.exit(main())
