"""The `pointillist-mock` command: `serve` (the default), and for a record on disk `verify`,
`repair` and `export` (record/tools.py). Commands that compose the mock with other packages
(`demo`, from the connector) are registered by those packages under the entry point group
`pointillist_mock.commands`: mockserver imports none of them."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, Protocol

from httpkit import arguments
from httpkit.arguments import seconds, whole
from httpkit.environment import flags_from_environment, subcommand
from httpkit.serving import CannotListen, terminate_as_interrupt
from mockserver import review_commands
from mockserver.errors import StoreError
from mockserver.settings import MEMORY, Limits, Settings, tokens_from_env

if sys.platform != "win32":  # uvloop does not support Windows; pyproject.toml installs it elsewhere
    import uvloop

PROG: Final = "pointillist-mock"

UVLOOP_ENV = "POINTILLIST_MOCK_UVLOOP"
ENV_PREFIX: Final = "POINTILLIST_MOCK_"  # serve's flags as variables (httpkit/environment.py)
GC_YOUNGEST, GC_MIDDLE, GC_OLDEST = 700, 10, 1000  # CPython's defaults are 700, 10, 10
COMMANDS: Final = "pointillist_mock.commands"  # the entry point group of added commands


class Command(Protocol):
    """A subcommand another package adds (entry point group COMMANDS)."""

    name: str

    def add_to(self, commands: Any) -> None: ...

    def run(self, parsed: argparse.Namespace) -> int: ...


def added_commands() -> list[Command]:
    """The commands installed packages register, by name. O(installed entry points)."""
    from importlib.metadata import entry_points

    return [point.load() for point in sorted(entry_points(group=COMMANDS), key=lambda p: p.name)]


def _parser(added: list[Command] | None = None) -> argparse.ArgumentParser:
    parser = arguments.Parser(
        prog=PROG, description="An offline mock of the Pointillist ingest API.")
    parser.add_argument("--version", action="version", version=f"{PROG} {arguments.version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = commands.add_parser("serve", help="run the mock (the default command)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind")
    serve.add_argument("--port", type=arguments.port, default=8787,
                       help="port, 0 to 65535 (0 picks a free one)")
    serve.add_argument("--db", type=record_path, default=MEMORY, metavar="FILE",
                       help="the record that makes events durable (created when missing, its "
                            "folder must exist; one process per record); ':memory:' keeps "
                            "nothing after exit")
    serve.add_argument("--compact-bytes", type=whole(1),
                       default=Settings.compact_min_bytes, metavar="BYTES",
                       help="compact the record once its journal tail (or its dead data) "
                       "passes this many bytes, or half the snapshot")
    serve.add_argument("--token", action="append", default=[],
                       help="accept only this token (repeatable; also POINTILLIST_MOCK_TOKENS, "
                            "comma-separated); without any, every non-empty token is a tenant")
    serve.add_argument("--max-body-bytes", type=whole(1), default=Limits.max_body_bytes,
                       metavar="BYTES", help="largest request body on the wire; 413 over it")
    serve.add_argument("--max-batch-events", type=whole(1), default=Limits.max_batch_events,
                       metavar="N", help="most events in one POST /events batch")
    serve.add_argument("--max-name-length", type=whole(1), default=Limits.max_name_length,
                       metavar="CHARS", help="longest eventType, actor type or key")
    serve.add_argument("--max-label-length", type=whole(1), default=Limits.max_label_length,
                       metavar="CHARS", help="longest label value")
    serve.add_argument("--max-wait-seconds", type=seconds(0, inclusive=True),
                       default=Limits.max_wait_seconds, metavar="SECONDS",
                       help="longest server-side wait GET /_mock/events?min_count= accepts")
    serve.add_argument("--max-decompressed-bytes", type=whole(1),
                       default=Limits.max_decompressed_bytes, metavar="BYTES",
                       help="largest gzip/deflate body once inflated; 413 over it")
    serve.add_argument("--max-connections", type=whole(1), default=Limits.max_connections,
                       metavar="N", help="connections open at once; one more is answered 503 "
                       "and closed")
    serve.add_argument("--idle-timeout", type=seconds(0),
                       default=Limits.idle_timeout_seconds, metavar="SECONDS",
                       help="close a connection that has not sent a whole request head within "
                       "this time, new or idle: the slow-header defence")
    serve.add_argument("--body-timeout", type=seconds(0),
                       default=Limits.body_timeout_seconds, metavar="SECONDS",
                       help="answer 408 and close when a body has not all arrived within this "
                       "time after its head")
    serve.add_argument("--head-timeout", type=seconds(0),
                       default=Limits.head_timeout_seconds, metavar="SECONDS",
                       help="close a connection whose request head is not whole this long "
                       "after its first byte")
    serve.add_argument("--max-connections-per-client", type=whole(1),
                       default=Limits.max_connections_per_client, metavar="N",
                       help="connections one client address may hold at once (its idle ones are "
                       "closed first to make room)")
    serve.add_argument("--log-level", choices=("debug", "info", "warning", "error"),
                       default="warning",
                       help="warning: failures only; info: a line per request with its status "
                       "and error code")
    arguments.add_guard_options(serve, "/_mock/*")
    serve.add_argument("--stream-queue-bytes", type=whole(1),
                       default=Settings.stream_queue_bytes, metavar="BYTES",
                       help="what one /_mock/stream subscriber may have waiting before it is "
                       "dropped")
    for command in added_commands() if added is None else added:
        command.add_to(commands)
    verify = commands.add_parser(
        "verify", help="check a record's checksums (snapshot and journal); changes nothing")
    verify.add_argument("--db", required=True, type=existing_record, metavar="FILE",
                        help="the record (the file serve's --db named)")
    repair = commands.add_parser(
        "repair", help="keep the longest valid prefix of a damaged record's journal, after "
        "copying the record beside it (PATH.backup)")
    repair.add_argument("--db", required=True, type=existing_record, metavar="FILE",
                        help="the record (the file serve's --db named)")
    export = commands.add_parser(
        "export", help="write one tenant's events as a TinyDB file (works while a mock serves "
        "the record)")
    export.add_argument("--db", required=True, type=existing_record, metavar="FILE",
                        help="the record (the file serve's --db named)")
    export.add_argument("--token", required=True, help="the tenant's API token")
    export.add_argument("--out", required=True, type=new_file, metavar="FILE",
                        help="a new file (its folder must exist)")
    review_commands.add_to(commands)
    return parser


def record_path(text: str) -> str:
    """--db of `serve`: what arguments.store_path accepts, and not a read-only file (the mock
    appends to its record). Checked before anything is opened; what a file holds (another
    program's file, a record in use, damage) is record.py's to refuse when it opens."""
    from mockserver.record.files import locking_missing

    if text != MEMORY and (missing := locking_missing()) is not None:
        raise argparse.ArgumentTypeError(missing)
    if (text != MEMORY and os.path.isfile(text) and os.access(text, os.R_OK)
            and not os.stat(text).st_mode & 0o222):
        raise argparse.ArgumentTypeError(
            f"{text} is read-only; the mock needs to append to its record")
    return arguments.store_path(text)


def existing_record(text: str) -> Path:
    """--db of verify, repair and export: a readable file."""
    return Path(arguments.readable_file(text))


def new_file(text: str) -> Path:
    """--out of export: a file to create, in a folder that exists."""
    if text == "-":
        raise argparse.ArgumentTypeError("export writes a file; name one")
    return arguments.output_file(text)


def settings_from_args(args: argparse.Namespace) -> Settings:
    limits = Limits(
        max_body_bytes=args.max_body_bytes,
        max_batch_events=args.max_batch_events,
        max_name_length=args.max_name_length,
        max_label_length=args.max_label_length,
        max_wait_seconds=args.max_wait_seconds,
        max_decompressed_bytes=args.max_decompressed_bytes,
        max_connections=args.max_connections,
        idle_timeout_seconds=args.idle_timeout,
        body_timeout_seconds=args.body_timeout,
        head_timeout_seconds=args.head_timeout,
        max_connections_per_client=args.max_connections_per_client,
    )
    tokens = frozenset(args.token) | tokens_from_env()
    return Settings(host=args.host, port=args.port, db=args.db, tokens=tokens, limits=limits,
                    compact_min_bytes=int(args.compact_bytes),
                    allow_hosts=frozenset(args.allow_host),
                    allow_origins=frozenset(args.allow_origin),
                    stream_queue_bytes=int(args.stream_queue_bytes))


async def _serve(settings: Settings) -> None:
    from httpkit.serving import serve_until_stopped
    from mockserver.http.app import create_app
    from mockserver.http.keys import SERVICE
    from mockserver.http.server import serving

    app = create_app(settings)

    def announce(url: str) -> None:
        mode = f"strict, {len(settings.tokens)} token(s)" if settings.strict_tokens else "any token"
        store = "in memory" if settings.in_memory else settings.db
        if cut := app[SERVICE].cut_bytes:
            store += (f", cut {cut} bytes of an incomplete final record (a write a crash "
                      "interrupted, never acknowledged)")
        # Tokens are never shown in clear: the dashboard asks for the one the client sends.
        print(f"{PROG} listening on {url} (store: {store}; tokens: {mode})\n"
              f"dashboard: {url}/  (enter the apiToken your client sends)", flush=True)

    await serve_until_stopped(lambda: serving(settings, app), announce)


def _record_command(parsed: argparse.Namespace) -> int:
    from mockserver.record import tools as record_tools

    if parsed.command == "verify":
        status, lines = record_tools.verify(parsed.db)
    elif parsed.command == "repair":
        status, lines = record_tools.repair(parsed.db)
    else:
        status, lines = record_tools.export(parsed.db, parsed.token, parsed.out)
    print("\n".join(lines), file=sys.stdout if status == 0 else sys.stderr, flush=True)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or (args[0].startswith("-") and args[0] not in ("-h", "--help", "--version")):
        args.insert(0, "serve")
    added = added_commands()
    parser = _parser(added)
    if args[0] == "serve":
        args += flags_from_environment(subcommand(parser, "serve"), ENV_PREFIX, args[1:])
    parsed = parser.parse_args(args)
    terminate_as_interrupt()
    for command in added:
        if parsed.command == command.name:
            return command.run(parsed)
    if parsed.command in review_commands.NAMES:
        return review_commands.run(parsed)
    if parsed.command in ("verify", "repair", "export"):
        try:
            return _record_command(parsed)
        except BrokenPipeError:  # `pointillist-mock verify ... | head -1`
            return arguments.stdout_closed()
    # The store keeps millions of long-lived values: full collections (which then take 0.1 s)
    # need not run every few thousand requests. CPython 3.11's 25 % rule alone would run one
    # every ~8,000 events; at most one per 1,000 middle-generation collections keeps the cost of
    # an event flat as the store grows (benchmarks/: 20 CPU µs an event at 10k and 22 at 1M
    # stored, through POST /events). Young cycles are still collected as often as before.
    gc.set_threshold(GC_YOUNGEST, GC_MIDDLE, GC_OLDEST)
    # The journal's thread needs the GIL back after each of its syscalls (write, fdatasync,
    # the stats that check the record is in place) while the event loop is busy: at CPython's
    # 5 ms switch interval a group commit waited up to that long for each, and every request
    # of the group with it. 0.5 ms: POST /event 0.52-0.54x the ceiling against 0.38-0.40x in
    # paired runs (benchmarks/, ceiling stage), the CPU per request unchanged.
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    logging.basicConfig(level=parsed.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = settings_from_args(parsed)
    try:
        with contextlib.suppress(KeyboardInterrupt), asyncio.Runner(
                loop_factory=event_loop) as run:
            run.run(_serve(settings))
    except CannotListen as exc:
        print(arguments.bind_failure(PROG, exc.host, exc.port, exc.cause), file=sys.stderr)
        return 1
    except StoreError as exc:  # the record was refused: one line, never a traceback
        print(f"{PROG}: {exc.message}", file=sys.stderr, flush=True)
        return 1
    return 0


SWITCH_INTERVAL_SECONDS = 0.0005


def event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop (about 20 % less CPU per request, measured with benchmarks/), except
    on Windows, which uvloop does not support (the dependency is not installed there), or with
    POINTILLIST_MOCK_UVLOOP=0: then asyncio's."""
    if sys.platform != "win32" and os.environ.get(UVLOOP_ENV, "1") != "0":
        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


if __name__ == "__main__":
    sys.exit(main())
