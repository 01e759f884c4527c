"""`segment-connector generate`: seeded Segment traffic as JSONL."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from connector.traffic.generate import DEFAULT_START, TrafficSpec, encode_jsonl, generate
from httpkit.arguments import output_file

from .common import count, instant

if TYPE_CHECKING:
    from .common import Subparsers


def add_generate(subcommands: Subparsers) -> None:
    parser = subcommands.add_parser(
        "generate",
        help="write seeded Segment traffic as JSONL",
        description="Write Segment messages (one JSON object per line, sorted by timestamp), "
        "as Segment's servers hand them to a destination. The same arguments give the "
        "same bytes.",
    )
    parser.add_argument("--seed", type=count(0), required=True, help="random seed")
    parser.add_argument("--users", type=count(1), required=True, help="number of users")
    parser.add_argument("--days", type=count(1), required=True,
                        help="days of traffic, from --start")
    parser.add_argument("--start", type=instant, default=DEFAULT_START,
                        help="first instant of the period (default 2026-01-01T00:00:00Z)")
    parser.add_argument("--out", type=output_file, default=None,
                        help="output file (default: standard output)")
    parser.set_defaults(handler=run_generate)


def run_generate(args: argparse.Namespace) -> int:
    from connector.extras import faker_mismatch, missing_line

    hint = missing_line("segment-connector generate", "faker")
    if hint is not None:
        print(hint, file=sys.stderr)
        return 2
    warning = faker_mismatch()
    if warning is not None:
        print(f"segment-connector generate: {warning}", file=sys.stderr)
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

