"""`pointillist-mock verify`, `repair` and `export`: what a person does with a record.

Each returns an exit status and the lines to print; none of them prints or exits itself.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from mockserver.codec import dump_json
from mockserver.errors import RecordDamaged, StoreError
from mockserver.record.files import fsync_dir, fsync_file
from mockserver.record.format import check_record, decode_line
from mockserver.record.opening import acquire, load, refuse_foreign
from mockserver.record.snapshot import write_tinydb
from mockserver.state.store import Store, tenant_key

_EXPORT_TRIES = 5  # a compaction of a served record may remove the snapshot we were to read


def verify(path: Path) -> tuple[int, list[str]]:
    """Read the whole record (snapshot and journal) without changing it. 0: it opens as is
    (an incomplete final record, which the next start cuts, included); 1: it does not."""
    try:
        info = refuse_foreign(path, writable=False)
        if info is None or info.st_size == 0:
            return 1, [f"{path}: no record there (a mock started on it creates one)"]
        store = Store()
        found = load(path, store)
    except RecordDamaged as exc:
        return 1, [exc.message, _what_repair_drops(path, exc)]
    except StoreError as exc:
        return 1, [exc.message]
    lines = [f"{path}: a pointillist-mock record, generation {found.header.generation}: ok"]
    if found.header.snapshot is not None:
        lines.append(f"snapshot {found.header.snapshot.file}: {found.header.snapshot.bytes} "
                     "bytes, checksum ok")
    lines.append(f"journal: {found.entries} records after the header, checksums ok")
    stored = sum(len(store.tenant(t).seqs) for t in store.tenants())
    lines.append(f"events: {stored} stored, in {len(store.tenants())} tenants")
    if found.torn:
        lines.append(f"an incomplete final record of {found.torn} bytes (a write a crash "
                     "interrupted, never acknowledged) is cut at the next start")
    return 0, lines


def _dropped_from(path: Path, offset: int) -> tuple[int, int, int]:
    """(events, entries, unreadable entries) from byte `offset` to the end. O(bytes after)."""
    events = entries = unreadable = 0
    with path.open("rb") as handle:
        handle.seek(offset)
        for line in handle:
            entries += 1
            try:
                record = check_record(decode_line(line, str(path), 0, 0), str(path), 0, 0)
            except RecordDamaged:
                unreadable += 1
                continue
            events += len(record.get("docs", ()))
    return events, entries, unreadable


def _what_repair_drops(path: Path, damage: RecordDamaged) -> str:
    if damage.details.get("file") != str(path) or "offset" not in damage.details:
        return ("repair cannot mend a damaged snapshot: restore it (or the whole record) from a "
                "backup")
    events, entries, unreadable = _dropped_from(path, damage.details["offset"])
    return (f"`pointillist-mock repair` would keep the first {damage.details['offset']} bytes "
            f"and drop {entries} records from there ({unreadable} unreadable), holding at least "
            f"{events} events")


def _backup(path: Path) -> Path:
    backup = path.with_name(path.name + ".backup")
    number = 0
    while backup.exists():
        number += 1
        backup = path.with_name(f"{path.name}.backup.{number}")
    shutil.copyfile(path, backup)
    with backup.open("rb") as handle:
        fsync_file(handle.fileno())
    fsync_dir(path.parent)
    return backup


def repair(path: Path) -> tuple[int, list[str]]:
    """Keep the longest valid prefix of the journal, after copying the record beside it."""
    try:
        fd = acquire(path)
    except StoreError as exc:
        return 1, [exc.message]
    try:
        try:
            found = load(path, Store())
        except RecordDamaged as exc:
            if exc.details.get("file") != str(path) or "offset" not in exc.details:
                return 1, [exc.message, _what_repair_drops(path, exc)]
            keep = int(exc.details["offset"])
            events, entries, unreadable = _dropped_from(path, keep)
            backup = _backup(path)
            os.ftruncate(fd, keep)
            fsync_file(fd)
            return 0, [f"repaired {path}: kept the first {keep} bytes (records 1 to "
                       f"{exc.details['record'] - 1}); dropped {events} events in {entries} "
                       f"records ({unreadable} of them unreadable, their events not counted); "
                       f"the record as it was is at {backup}"]
        except StoreError as exc:
            return 1, [exc.message]
        if not found.torn:
            return 0, [f"{path}: nothing to repair"]
        backup = _backup(path)
        os.ftruncate(fd, found.end)
        fsync_file(fd)
        return 0, [f"repaired {path}: cut an incomplete final record of {found.torn} bytes "
                   f"(never acknowledged); dropped 0 events; the record as it was is at {backup}"]
    finally:
        os.close(fd)


def export(path: Path, token: str, out: Path) -> tuple[int, list[str]]:
    """Write the tenant of `token` as a TinyDB file: its default table holds the events as
    GET /_mock/events lists them, in order (doc_id = the event's number). Reads the snapshot
    and journal without the lock, so it works while a mock serves the record: what it writes
    is the record as of some moment during the export. O(the record)."""
    if out.exists():
        return 1, [f"{out} exists; export writes a new file only"]
    tenant = tenant_key(token)
    for _ in range(_EXPORT_TRIES):
        store = Store()
        try:
            refuse_foreign(path, writable=False)
            if not path.exists():
                return 1, [f"{path}: no record there"]
            before = os.stat(path).st_ino
            load(path, store, only=tenant)
        except RecordDamaged as exc:
            if os.stat(path).st_ino != before:
                continue  # compacted while we read: read the new record
            return 1, [exc.message]
        except StoreError as exc:
            return 1, [exc.message]
        break
    else:
        return 1, [f"{path} was compacted {_EXPORT_TRIES} times while it was read; try again"]
    if tenant not in store.tenants():
        return 1, _unknown_tenant(path)
    count = store.stats(tenant)["events"]
    write_tinydb(out, [("_default", ((seq, dump_json(doc)) for seq, doc in store.listed(tenant)))])
    return 0, [f"exported {count} events to {out} (open it with tinydb.TinyDB)"]


DIGEST_SHOWN = 12  # hex digits of a tenant's digest shown by export: enough to tell them apart


def _unknown_tenant(path: Path) -> list[str]:
    """A token the record never saw (tenants exist from their first accepted event): name the
    tenants it holds, by digest (tokens are never kept nor shown in clear), and how to tell
    which token a digest belongs to."""
    store = Store()
    try:
        load(path, store)
    except StoreError as exc:
        return [exc.message]
    held = sorted((store.stats(key)["events"], key) for key in store.tenants())
    lines = [f"{path} holds no tenant for this token: the mock never accepted an event with it"]
    if held:
        shown = ", ".join(f"{key[:DIGEST_SHOWN]} ({n} events)" for n, key in reversed(held))
        lines += [f"its {len(held)} tenant(s), by the sha256 of their token: {shown}",
                  "a token's digest: printf %s TOKEN | sha256sum | cut -c1-"
                  f"{DIGEST_SHOWN}"]
    else:
        lines.append("it holds no tenant yet")
    return lines
