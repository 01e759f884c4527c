"""The TinyDB tables events live in: segment tables whose inserts add documents instead of
rewriting the table (see tenant.py: flat cost as the store grows)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tinydb import TinyDB
from tinydb.storages import MemoryStorage
from tinydb.table import Document, Table

SEGMENT_SIZE = 256  # documents per segment table


def segment_name(seq: int) -> str:
    """The table that holds event `seq`."""
    return f"events.{(seq - 1) // SEGMENT_SIZE:08d}"


class AppendTable(Table):
    """A TinyDB table (on MemoryStorage) whose inserts add documents instead of rewriting it.

    TinyDB's insert_multiple reads the whole table, copies it twice and writes it back, which is
    what a storage that serializes the whole database needs; in memory the table is a dict, and
    adding to it leaves the other documents alone. Documents come with their doc_id."""

    def insert_multiple(self, documents: Iterable[Mapping[str, Any]]) -> list[int]:
        tables = self._storage.read()
        if tables is None:
            tables = {}
            self._storage.write(tables)
        table = tables.setdefault(self.name, {})
        ids: list[int] = []
        for document in documents:
            if not isinstance(document, Document):
                raise ValueError("an event document needs its doc_id")
            key = str(document.doc_id)
            if key in table:
                raise ValueError(f"Document with ID {key} already exists")
            # {**document}, not dict(document): a display starts untracked by the garbage
            # collector, and a table of untracked documents is never walked by it.
            table[key] = {**document}
            ids.append(document.doc_id)
        self.clear_cache()
        return ids


class _EventDB(TinyDB):
    table_class = AppendTable


def event_db() -> TinyDB:
    return _EventDB(storage=MemoryStorage)
