"""`segment-connector`: one small function per subcommand (add_<name> + run_<name>)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from connector.generate import DEFAULT_START, TrafficSpec, encode_jsonl, generate, parse_start

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


if __name__ == "__main__":
    sys.exit(main())
