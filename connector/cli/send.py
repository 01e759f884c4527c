"""`segment-connector send`: map a JSONL file and deliver it, with progress and a summary.

The delivery with its progress bar and the summary table serve `audiences sync` too. The bar is
rich's (the demo extra), drawn only when rich is installed: without it the command runs the same,
with no bar (a progress bar is never a reason for a core command to refuse).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp

from connector.client import DeliveryClient, DeliveryResult
from connector.config import (
    DEFAULT_ACTOR_TYPE,
    DEFAULT_CONCURRENCY,
    SEND_RETRY_FOR,
    SEND_UNREACHABLE_AFTER,
    DeliveryConfig,
    MappingSettings,
)
from connector.errors import ConfigError
from connector.extras import missing
from connector.pipeline import Plan, Summary, deliver, plan, read_jsonl
from httpkit.arguments import input_file, seconds

from .common import count

if TYPE_CHECKING:
    from .common import Subparsers

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
    parser.add_argument("file", metavar="FILE.jsonl", type=input_file,
                        help="Segment messages, or - for stdin")
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
    parser.add_argument("--concurrency", type=count(1), default=DEFAULT_CONCURRENCY,
                        metavar="N",
                        help="requests in flight at once")
    parser.add_argument("--retry-for", type=seconds(0), default=SEND_RETRY_FOR,
                        metavar="SECONDS",
                        help="how long a 408, 429, 5xx, timeout or connection failure is "
                        "retried, with backoff and Retry-After honoured (default "
                        f"{SEND_RETRY_FOR:g}); a destination never reached fails within "
                        f"{SEND_UNREACHABLE_AFTER:g} s")
    parser.add_argument("--max-retries", type=count(0), default=None, metavar="N",
                        help="also stop after N backoff retries (default: no cap)")
    parser.add_argument("--max-label-length", type=count(1), default=None, metavar="N",
                        help="mirror a destination that limits label values to N characters: "
                        "a longer value is left out of its event, which is still sent, and "
                        "counted in the summary (default: no limit)")
    parser.set_defaults(handler=run_send)


def run_send(args: argparse.Namespace) -> int:
    prog = "segment-connector send"
    try:
        settings = MappingSettings(actor_type=args.actor_type,
                                   map_page_screen=args.map_page_screen,
                                   max_label_length=args.max_label_length)
        config = DeliveryConfig(url=args.url, token=args.token, concurrency=args.concurrency,
                                retry_for=args.retry_for, max_retries=args.max_retries,
                                batch=args.batch, unreachable_after=SEND_UNREACHABLE_AFTER)
    except ConfigError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    try:
        planned = _read_plan(args.file, settings)
    except OSError as exc:
        print(f"{prog}: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    try:
        summary = asyncio.run(send_with_progress(planned, config))
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    if summary.unreachable is not None:
        print(f"{prog}: {summary.unreachable.message}", file=sys.stderr)
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


async def send_with_progress(planned: Plan, config: DeliveryConfig) -> Summary:
    """Deliver `planned`, with rich's progress bar on stderr when rich is installed."""
    result = DeliveryResult()
    if missing("rich"):
        async with aiohttp.ClientSession() as session:
            return await deliver(planned, DeliveryClient(session, config), result)
    return await _send_with_bar(planned, config, result)


async def _send_with_bar(planned: Plan, config: DeliveryConfig,
                         result: DeliveryResult) -> Summary:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

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
    if summary.labels_left_out:
        lines.append(f"{summary.labels_left_out} sent with labels left out (over "
                     "--max-label-length)")
    return lines
