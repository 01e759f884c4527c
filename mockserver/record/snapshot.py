"""Snapshots: the live state of every tenant, written as a TinyDB database (TinyDB's default
JSONStorage opens it), and read back line by line.

    {
    "_pointillist": {
    "1": {"format": "pointillist-mock-snapshot", "version": 1, "generation": 3},
    "2": {"tenant": "<digest>", "nextSeq": 42}
    },
    "events:<digest>": {
    "1": {"seq": 1, "id": "evt_0000000001", "receivedAt": …, "eventTime": …, "numbers": …,
          "event": …},
    …
    },
    "keys:<digest>": {
    "1": {"key": "k-1", "fp": "…", "ids": ["evt_0000000004"]}
    }
    }

One table per tenant (its events, doc_id = the event's sequence number), one of its remembered
Idempotency-Keys, and `_pointillist` (the format, and each tenant's next id). One document per
line, so reading needs no more memory than one document; the whole file's CRC-32 and size are
kept in the record's header, which names the snapshot. Written to a temporary file, fsynced,
renamed into place, and the directory fsynced: a snapshot is whole or absent.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from mockserver.codec import dump_json, load_json
from mockserver.errors import RecordDamaged, RecordRefused
from mockserver.record.files import fsync_dir, fsync_file, temporary_path
from mockserver.record.format import SNAPSHOT_FORMAT, SnapshotRef
from mockserver.state import documents as doc_index
from mockserver.state.store import Store, TenantView

META = "_pointillist"
EVENTS = "events:"
KEYS = "keys:"
VERSION = 2  # 2: each event document starts with its `_index` (doc_index.py); 1 still loads
CHUNK = 4096  # documents written (and applied) at a time


class _Writer:
    """Bytes to a file, with their CRC-32 and count."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.crc = 0
        self.size = 0

    def put(self, text: str) -> None:
        blob = text.encode("utf-8")
        self.crc = zlib.crc32(blob, self.crc)
        self.size += len(blob)
        self.handle.write(blob)


Documents = Iterable[tuple[int, str]]  # (doc_id, JSON text)


def _table(out: _Writer, name: str, docs: Documents, first: bool) -> None:
    """One table: `"name": {` then `"id": json` lines. O(documents), CHUNK lines per write."""
    out.put(("" if first else ",\n") + dump_json(name) + ": {\n")
    lines: list[str] = []
    separator = ""
    for doc_id, text in docs:
        lines.append(f'"{doc_id}": {text}')
        if len(lines) == CHUNK:
            out.put(separator + ",\n".join(lines))
            lines, separator = [], ",\n"
    if lines:
        out.put(separator + ",\n".join(lines))
        separator = ",\n"
    out.put("\n}" if separator else "}")


def write_tinydb(path: Path, tables: Iterable[tuple[str, Documents]]) -> SnapshotRef:
    """Write `tables` ((name, (doc_id, JSON text)…)…) as a TinyDB file at `path`, atomically:
    a temporary file beside it, fsync, rename, fsync of the directory. When any step before
    the rename fails, the temporary file is removed then and there."""
    temporary = temporary_path(path)
    try:
        with temporary.open("wb", buffering=1 << 20) as handle:
            out = _Writer(handle)
            out.put("{\n")
            first = True
            for name, docs in tables:
                _table(out, name, docs, first)
                first = False
            out.put("\n}\n")
            handle.flush()
            fsync_file(handle.fileno())
        os.replace(temporary, path)
    except BaseException:  # a full disk, say: the half-written file goes at once
        temporary.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return SnapshotRef(path.name, out.size, out.crc)


def snapshot_tables(views: list[TenantView], generation: int) -> Iterator[tuple[str, Documents]]:
    meta = [dump_json({"format": SNAPSHOT_FORMAT, "version": VERSION, "generation": generation})]
    meta += [dump_json({"tenant": v.tenant, "nextSeq": v.next_seq}) for v in views]
    yield META, enumerate(meta, start=1)
    for view in views:
        if view.seqs:
            yield EVENTS + view.tenant, view.texts()
        if view.keys:
            yield KEYS + view.tenant, (
                (n, dump_json({"key": key, "fp": seen.fingerprint, "ids": seen.ids}))
                for n, (key, seen) in enumerate(view.keys.items(), start=1))


def write_snapshot(path: Path, views: list[TenantView], generation: int) -> SnapshotRef:
    """The snapshot of `views` at `path`. O(events + keys): every document's JSON text is
    copied as the store keeps it, never parsed or serialized again."""
    return write_tinydb(path, snapshot_tables(views, generation))


def read_snapshot(path: Path, ref: SnapshotRef, store: Store, only: str | None = None) -> int:
    """Load the snapshot at `path` into `store` (only tenant `only`, if given); return the
    events loaded. O(events): one document parsed at a time. RecordDamaged if the snapshot is
    missing, of another size or checksum, or not in the shape this module writes."""
    where = str(path)
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise RecordDamaged(f"the snapshot {where}, named by the record, is missing",
                            {"file": where}) from None
    with handle:
        size = os.fstat(handle.fileno()).st_size
        if size != ref.bytes:
            raise RecordDamaged(
                f"the snapshot {where} holds {size} bytes; the record says {ref.bytes}",
                {"file": where, "offset": min(size, ref.bytes)})
        loader = _Loader(store, where, only)
        crc = loader.load(handle)
    if crc != ref.crc32:
        raise RecordDamaged(f"the snapshot {where} is damaged: its checksum does not match",
                            {"file": where})
    return loader.events


class _Loader:
    def __init__(self, store: Store, where: str, only: str | None) -> None:
        self.store = store
        self.where = where
        self.only = only
        self.events = 0
        # An events table's document lines not yet applied, and where the first one starts.
        self._lines: list[bytes] = []
        self._first: tuple[int, int] = (0, 0)  # (byte offset, line number)
        self._shared: dict[bytes, doc_index.Groups] = {}  # identifier lists, by their text

    def damaged(self, offset: int, number: int, why: str) -> RecordDamaged:
        return RecordDamaged(
            f"the snapshot {self.where} is damaged at line {number} (byte offset {offset}): "
            f"{why}", {"file": self.where, "offset": offset, "record": number})

    def load(self, handle: BinaryIO) -> int:
        """Read every line: O(bytes). An event's line is only gathered here (the loop every
        stored event takes, kept short); _flush parses CHUNK of them at a time."""
        crc = offset = 0
        table: str | None = None
        events = False  # whether `table` is an events table this load keeps
        lines = self._lines
        ended = False
        for number, line in enumerate(handle, start=1):
            crc = zlib.crc32(line, crc)
            if events and line[:1] == b'"' and not ended:
                if not lines:
                    self._first = (offset, number)
                lines.append(line)
                if len(lines) == CHUNK:
                    self._flush(table)  # type: ignore[arg-type]
                offset += len(line)
                continue
            if ended or not line.endswith(b"\n"):
                raise self.damaged(offset, number, "bytes after the end")
            if number == 1:
                if line != b"{\n":
                    raise self.damaged(offset, number, "not a snapshot")
            elif table is None:
                if line == b"}\n":
                    ended = True
                elif line.startswith(b'"') and line.endswith(b'": {\n'):
                    table = line[1:-5].decode("utf-8", "replace")
                    events = table.startswith(EVENTS) and (
                        self.only is None or table == EVENTS + self.only)
                else:
                    raise self.damaged(offset, number, "not a table")
            elif line in (b"}\n", b"},\n"):
                self._flush(table)
                table, events = None, False
            elif not table.startswith(EVENTS):
                self._document(table, line, offset, number)
            offset += len(line)
        if not ended:
            raise self.damaged(offset, 0, "it ends before its last table")
        return crc

    def _parse(self, line: bytes, offset: int, number: int) -> tuple[dict[str, Any], str]:
        """One document line's value and JSON text. O(len(line))."""
        if not line.endswith(b"\n"):
            raise self.damaged(offset, number, "bytes after the end")
        cut = line.find(b'": ')
        body = line[cut + 3:-2] if line.endswith(b",\n") else line[cut + 3:-1]
        try:
            text = body.decode("utf-8")
            doc = load_json(text)
        except ValueError:
            raise self.damaged(offset, number, "a document does not parse") from None
        if cut < 0 or not isinstance(doc, dict):
            raise self.damaged(offset, number, "not a document")
        return doc, text

    def _document(self, table: str, line: bytes, offset: int, number: int) -> None:
        doc, _ = self._parse(line, offset, number)
        if table == META:
            if "tenant" in doc and (self.only is None or doc["tenant"] == self.only):
                self.store.restore_next_seq(doc["tenant"], doc["nextSeq"])
            elif doc.get("format", SNAPSHOT_FORMAT) != SNAPSHOT_FORMAT:
                raise self.damaged(offset, number, "not a pointillist-mock snapshot")
            elif not isinstance(doc.get("version", 1), int) or doc.get("version", 1) > VERSION:
                raise RecordRefused(
                    f"the snapshot {self.where} is of version {doc.get('version')!r}; this "
                    f"pointillist-mock reads versions 1 to {VERSION}")
        elif table.startswith(KEYS):
            tenant = table[len(KEYS):]
            if self.only is None or tenant == self.only:
                self.store.restore_key(tenant, doc["key"], doc["ids"], doc["fp"])

    def _flush(self, table: str) -> None:
        """Apply the gathered event lines as one batch. O(lines): only each document's
        `_index` is parsed (doc_index.py); one without it is decoded whole."""
        lines = self._lines
        if not lines:
            return
        if not self._bulk(table, lines):
            self._one_by_one(table, lines)
        lines.clear()

    def _bulk(self, table: str, lines: list[bytes]) -> bool:
        """The usual case of _flush, with no Python call per document (doc_index.from_bodies);
        False, having changed nothing, when any line is not as this module writes it.
        O(lines)."""
        if not all(line.endswith((b"},\n", b"}\n")) for line in lines):  # O(lines)
            return False
        bodies = [line[line.find(b'": ') + 3:line.rindex(b"}") + 1] for line in lines]  # O(lines)
        columns = doc_index.from_bodies(bodies, self._shared)
        if columns is None:
            return False
        try:  # JSON text holds no raw line break: one decode, split back into documents
            texts = b"\n".join(bodies).decode("utf-8").split("\n")
        except UnicodeDecodeError:
            return False
        self.store.restore_events(table[len(EVENTS):], columns, texts)
        self.events += len(texts)
        return True

    def _one_by_one(self, table: str, lines: list[bytes]) -> None:
        """_flush, a document at a time: version 1 documents, and precise damage reports."""
        offset, number = self._first
        columns = doc_index.Columns()
        texts: list[str] = []
        for line in lines:
            if not line.endswith((b"},\n", b"}\n")):
                raise self.damaged(offset, number, "not a document")
            body = line[line.find(b'": ') + 3:line.rindex(b"}") + 1]
            try:
                index = doc_index.from_text(body)
                if index is not None:
                    texts.append(body.decode("utf-8"))
                    columns.add(index)
                else:  # a version 1 document: decoded, and kept with its `_index` from now on
                    doc = doc_index.decode(body.decode("utf-8"))
                    columns.add(doc_index.index_of(doc))
                    texts.append(doc_index.indexed_text(doc))
            except (ValueError, TypeError, KeyError, IndexError, AttributeError):
                raise self.damaged(offset, number, "a document does not parse") from None
            offset += len(line)
            number += 1
        self.store.restore_events(table[len(EVENTS):], columns, texts)
        self.events += len(texts)
