"""`pointillist-mock snapshot` and `pointillist-mock diff`: the review commands.

A source (what `diff` compares, and what `snapshot` reads) is one of:
- a running mock's URL (`http://127.0.0.1:8787`), read through GET /_mock/snapshot with the
  token of `--token`;
- a pointillist-mock record (serve's --db file), with `--token`: read like `export` reads it,
  so it works while a mock serves the record;
- a tenant's export (`pointillist-mock export`, a TinyDB file);
- a snapshot file (what `snapshot` writes, GET /_mock/snapshot answers, or syrupy keeps).
The exit status of `diff` is 0 when the two hold the same events, 1 when they differ, 2 when a
source cannot be read (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Final

from mockserver.errors import RecordDamaged, StoreError
from mockserver.record.format import PREFIX_BYTES, looks_like_ours
from mockserver.review import Snapshot, diff, normalise, parse_snapshot
from mockserver.review.render import FORMATS, render

NAMES: Final = ("snapshot", "diff")
HTTP_TIMEOUT: Final = 60.0
_TRIES: Final = 5  # a compaction of a served record may remove the snapshot we were to read


class Unreadable(Exception):
    """A source that cannot be read: its message is the one line printed."""


def add_to(commands: Any) -> None:
    snapshot = commands.add_parser(
        "snapshot", help="write one tenant's snapshot: its events in order, one per line, "
        "volatile values (ids, idempotency keys, receive times) left out")
    where = snapshot.add_mutually_exclusive_group(required=True)
    where.add_argument("--db", type=Path, metavar="FILE",
                       help="the record (the file serve's --db named; may be in use)")
    where.add_argument("--url", metavar="URL", help="a running mock, e.g. http://127.0.0.1:8787")
    snapshot.add_argument("--token", required=True, help="the tenant's API token")
    snapshot.add_argument("--out", default="-", metavar="FILE",
                          help="where to write it (default -: stdout)")
    snapshot.add_argument("--drop-event-times", action="store_true",
                          help="leave eventTime out too (traffic stamped with the time it ran)")
    compare = commands.add_parser(
        "diff", help="compare two snapshots, exports, records or running mocks' tenants: events "
        "added, removed and changed per actor; exit 1 when they differ")
    compare.add_argument("a", metavar="A", help="a snapshot file, an export, a record (with "
                         "--token) or a mock's URL (with --token)")
    compare.add_argument("b", metavar="B", help="the same kinds as A: what A has become")
    compare.add_argument("--token", action="append", default=[], metavar="T",
                         help="the tenant's token for a record or URL; give it twice for "
                         "different tokens on A and B")
    compare.add_argument("--format", choices=FORMATS, default="text",
                         help="text (default), json, or markdown for a pull-request comment")
    compare.add_argument("--drop-event-times", action="store_true",
                         help="compare without eventTime")


def run(parsed: argparse.Namespace) -> int:
    prog = f"pointillist-mock {parsed.command}"
    try:
        if parsed.command == "snapshot":
            source = parsed.url if parsed.url is not None else str(parsed.db)
            taken = read_source(source, parsed.token, not parsed.drop_event_times)
            if parsed.out == "-":
                sys.stdout.write(taken.text)
            else:
                Path(parsed.out).write_text(taken.text, encoding="utf-8")
                print(f"wrote {len(taken)} events to {parsed.out}")
            return 0
        if len(parsed.token) > 2:
            raise Unreadable("give --token once (both sides) or twice (A, then B)")
        tokens = [*parsed.token, *parsed.token][:2] if parsed.token else [None, None]
        keep = not parsed.drop_event_times
        a = read_source(parsed.a, tokens[0], keep)
        b = read_source(parsed.b, tokens[1] if len(parsed.token) == 2 else tokens[0], keep)
    except Unreadable as exc:
        print(f"{prog}: {exc}", file=sys.stderr, flush=True)
        return 2
    result = diff(a, b)
    sys.stdout.write(render(result, parsed.format))
    sys.stdout.flush()
    return 0 if result.empty else 1


def read_source(source: str, token: str | None, event_times: bool = True) -> Snapshot:
    """The snapshot of `source` (see the module docstring). Raises Unreadable."""
    if source.startswith(("http://", "https://")):
        if not token:
            raise Unreadable(f"{source}: a running mock needs --token")
        return _without_times(parse_snapshot(_fetch(source, token)), event_times)
    path = Path(source)
    try:
        with path.open("rb") as handle:
            prefix = handle.read(PREFIX_BYTES)
    except OSError as exc:
        raise Unreadable(f"cannot read {source}: {exc.strerror or exc}") from None
    if looks_like_ours(prefix):
        if not token:
            raise Unreadable(f"{source} is a pointillist-mock record: give the tenant's --token")
        return normalise(_record_events(path, token), event_times)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise Unreadable(f"cannot read {source}: {exc}") from None
    exported = _export_events(text)
    if exported is not None:
        return normalise(exported, event_times)
    try:
        return _without_times(parse_snapshot(text), event_times)
    except ValueError as exc:
        raise Unreadable(f"{source} is not a snapshot, an export or a record: {exc}") from None


def _without_times(snapshot: Snapshot, event_times: bool) -> Snapshot:
    return snapshot if event_times else normalise(snapshot.events, event_times=False)


def _fetch(url: str, token: str) -> str:
    query = urllib.parse.urlencode({"eventTimes": "keep"})
    request = urllib.request.Request(f"{url.rstrip('/')}/_mock/snapshot?{query}",
                                     headers={"apiToken": token})
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
            return str(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read())["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = exc.reason
        raise Unreadable(f"{url}: {exc.code} {message}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise Unreadable(f"{url}: cannot reach the mock ({reason})") from None


def _export_events(text: str) -> list[dict[str, Any]] | None:
    """The events of a TinyDB export (`{"_default": {"1": event, ...}}`), in order; None for
    any other text."""
    if "_default" not in text[:64]:
        return None
    try:
        table = json.loads(text)["_default"]
        return [table[key] for key in sorted(table, key=int)]
    except (ValueError, KeyError, TypeError):
        return None


def _record_events(path: Path, token: str) -> list[dict[str, Any]]:
    """The tenant's events as GET /_mock/events lists them, read without the record's lock
    (as `export` reads it). O(the record)."""
    # Here, not at the top: every `pointillist-mock` start imports this module for its parser.
    from mockserver.record.opening import load, refuse_foreign
    from mockserver.state.store import Store, tenant_key

    tenant = tenant_key(token)
    for _ in range(_TRIES):
        store = Store()
        try:
            refuse_foreign(path, writable=False)
            before = os.stat(path).st_ino
            load(path, store, only=tenant)
        except RecordDamaged as exc:
            if os.stat(path).st_ino != before:
                continue  # compacted while we read: read the new record
            raise Unreadable(exc.message) from None
        except StoreError as exc:
            raise Unreadable(exc.message) from None
        return [doc for _, doc in store.listed(tenant)]
    raise Unreadable(f"{path} was compacted {_TRIES} times while it was read; try again")


__all__ = ["NAMES", "Unreadable", "add_to", "read_source", "run"]
