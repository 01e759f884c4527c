"""`segment-connector plan infer FILE [FILE...] --out plan.yaml`: a tracking plan drafted from
traffic (connector/plans/inference.py), in the short YAML form `validate --plan` reads.

FILEs are JSON lines of Segment messages (fixtures/, captures); `--from-gateway URL` reads a
running gateway's accepted messages instead (GET /_gateway/accepted, page by page), or as well.
Exit 0 with the plan written; 2 for an unreadable file or line (each named, nothing written),
an unreachable gateway or no message at all. One line per error.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TextIO

from connector.plans.inference import Inference, render
from httpkit.arguments import input_file, output_file

if TYPE_CHECKING:
    from .common import Subparsers

PAGE = 1_000  # messages per GET /_gateway/accepted


def add_plan(subcommands: Subparsers) -> None:
    parser = subcommands.add_parser(
        "plan", help="tracking plans: draft one from traffic (plan infer)",
        description="Tracking-plan tools. `plan infer` drafts a plan from traffic.")
    commands = parser.add_subparsers(dest="plan_command", required=True, metavar="COMMAND")
    infer = commands.add_parser(
        "infer", help="draft a tracking plan (short YAML form) from Segment messages",
        description="Draft a tracking plan from Segment messages: every track event, page and "
        "screen with its properties and their JSON types, `required` where a property was in "
        "every message, identify and group traits, as the short YAML form that `validate "
        "--plan` and `gateway --tracking-plan` read. Sorted, with counts as comments.")
    infer.add_argument("files", nargs="*", metavar="FILE.jsonl", type=input_file,
                       help="Segment messages, one JSON object per line (- for stdin)")
    infer.add_argument("--from-gateway", default=None, metavar="URL",
                       help="read a running gateway's accepted messages (its base URL)")
    infer.add_argument("--out", default=None, metavar="PLAN.yaml", type=output_file,
                       help="where to write the plan (default: standard output)")
    infer.add_argument("--name", default="inferred", help="the plan's name (default: inferred)")
    infer.add_argument("--enums", action="store_true",
                       help="add `enum` to properties with few distinct string or integer "
                       "values (at most 5, each seen more than once on average)")
    infer.add_argument("--common", action="store_true",
                       help="add a common rule: the context fields every message has")
    infer.set_defaults(handler=run_plan_infer)


class InferError(Exception):
    pass


def run_plan_infer(args: argparse.Namespace) -> int:
    if not args.files and args.from_gateway is None:
        print("error: give at least one FILE, or --from-gateway URL", file=sys.stderr)
        return 2
    found = Inference()
    sources: list[str] = []
    try:
        for name in args.files:
            for message in _file_messages(name):  # O(lines)
                found.see(message)
            sources.append("stdin" if name == "-" else name)
        if args.from_gateway is not None:
            for message in gateway_messages(args.from_gateway):
                found.see(message)
            sources.append(args.from_gateway)
    except InferError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not found.messages:
        print(f"error: no message in {', '.join(sources)}: nothing to draft a plan from",
              file=sys.stderr)
        return 2
    text = render(found, args.name, ", ".join(sources), args.enums, args.common)
    if args.out is None or str(args.out) == "-":
        sys.stdout.write(text)
    else:
        args.out.write_text(text, encoding="utf-8")
        planned = sum(1 for kind, _ in found.shapes if kind == "track")
        print(f"wrote {args.out}: {planned} track event(s) from {found.messages} message(s)")
    return 0


def _file_messages(name: str) -> Iterator[dict[str, Any]]:
    if name == "-":
        yield from _lines(sys.stdin, "stdin")
        return
    try:
        with open(name, encoding="utf-8") as lines:
            yield from _lines(lines, name)
    except OSError as exc:
        raise InferError(f"cannot read {name}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InferError(f"{name} is not UTF-8 text") from None


def _lines(lines: TextIO, name: str) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            message = json.loads(line)
        except ValueError:
            raise InferError(f"{name} line {number}: not JSON") from None
        if not isinstance(message, dict):
            raise InferError(f"{name} line {number}: a JSON {type(message).__name__}, "
                             "not an object")
        yield message


def gateway_messages(url: str) -> Iterator[dict[str, Any]]:
    """Every accepted message a gateway keeps, oldest first, PAGE at a time (keyset paging:
    each page O(PAGE) on the gateway)."""
    after = 0
    base = url.rstrip("/")
    while True:
        query = urllib.parse.urlencode({"after": after, "limit": PAGE})
        try:
            with urllib.request.urlopen(f"{base}/_gateway/accepted?{query}",
                                        timeout=30) as response:
                page = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise InferError(f"{base}/_gateway/accepted answered {exc.code}") from None
        except (OSError, ValueError) as exc:
            raise InferError(f"the gateway {base} cannot be read "
                             f"({type(exc).__name__}: {exc})") from None
        yield from page["messages"]
        if page["next"] is None:
            return
        after = page["next"]
