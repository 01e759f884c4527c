"""One tenant's state in the event store: its TinyDB documents, indexes and identity graph.

Pure data, no I/O. Flat cost as the store grows: TinyDB's own insert rewrites a whole table, so
events live in fixed-size segment tables (SEGMENT_SIZE documents each) whose inserts add
documents instead of rewriting the table (`_AppendTable`); an insert costs the same with 10 or
10 million stored. Small in memory: each TinyDB document holds its event as one compact JSON
string (about a third of the memory of the parsed dicts, and nothing for the garbage collector
to walk); `Tenant.doc` reads it back as the very same values.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tinydb import TinyDB
from tinydb.storages import MemoryStorage
from tinydb.table import Document, Table

from .codec import dump_json, load_json
from .identity import Conflict, IdentityGraph

if TYPE_CHECKING:
    from .store import Rejected

SEGMENT_SIZE = 256

Doc = dict[str, Any]


@dataclass(frozen=True)
class Idempotent:
    ids: list[str]
    fingerprint: str | None


class _AppendTable(Table):
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
    table_class = _AppendTable


def _event_db() -> TinyDB:
    return _EventDB(storage=MemoryStorage)


def segment_name(seq: int) -> str:
    return f"events.{(seq - 1) // SEGMENT_SIZE:08d}"


@dataclass
class Tenant:
    rejected_kept: int
    db: TinyDB = field(default_factory=_event_db)
    graph: IdentityGraph = field(default_factory=IdentityGraph)
    # Event ids as machine integers (see identity.IdentityGraph._events): no per-event objects
    # for the garbage collector to walk, however many events are stored.
    seqs: array[int] = field(default_factory=lambda: array("q"))
    by_type: dict[str, array[int]] = field(default_factory=dict)
    idempotency: dict[str, Idempotent] = field(default_factory=dict)  # durable keys only
    claims: dict[str, Idempotent] = field(default_factory=dict)  # keys of writes in flight
    conflicts: list[Conflict] = field(default_factory=list)
    rejected: deque[Rejected] = field(default_factory=deque)
    rejected_total: int = 0
    replays: int = 0
    # What apply saw, independently of the claims `prepare` makes: a key stored twice is a bug.
    stored_keys: set[str] = field(default_factory=set)
    duplicate_keys: set[str] = field(default_factory=set)
    # The stored documents' JSON text, in bytes: what compaction weighs live data by.
    text_bytes: int = 0

    def doc(self, seq: int) -> Doc:
        doc: Doc = load_json(self.doc_text(seq))
        return doc

    def doc_text(self, seq: int) -> str:
        """The stored document's JSON text. Two dict look-ups, no copy: safe to call from
        another thread while the event loop inserts (compaction reads documents this way)."""
        tables: dict[str, dict[str, dict[str, str]]] = self.db.storage.read()  # type: ignore[assignment]
        found = tables.get(segment_name(seq), {}).get(str(seq))
        assert found is not None, f"event {seq} is indexed but missing"
        return found["json"]

    def insert(self, docs: list[Doc], texts: list[str] | None = None) -> None:
        """Add `docs` (with their JSON text when the caller has it, as a snapshot does).

        Straight into the MemoryStorage's tables, as _AppendTable.insert_multiple would put
        them (the same {"json": text} documents under str(doc_id)), without its per-document
        Document objects: the difference is a third of a restart's time. O(len(docs))."""
        storage = self.db.storage
        tables: dict[str, dict[str, dict[str, str]]] | None = storage.read()
        if tables is None:
            tables = {}
            storage.write(tables)
        for index, doc in enumerate(docs):
            seq = doc["seq"]
            text = texts[index] if texts is not None else dump_json(doc)
            segment = tables.get(name := segment_name(seq))
            if segment is None:
                segment = tables[name] = {}
            key = str(seq)
            if key in segment:
                raise ValueError(f"Document with ID {key} already exists")
            segment[key] = {"json": text}
            self.text_bytes += len(text)
        # No query cache to clear: the segment tables are only ever read by doc_id.

@dataclass(frozen=True)
class TenantView:
    """A tenant as a snapshot holds it (Store.capture): `seqs` and `keys` are copies; the
    documents are read through `state`, which only ever grows (a reset replaces it)."""

    tenant: str
    next_seq: int
    state: Tenant | None
    seqs: array[int]
    hidden: dict[int, Doc]  # durable, not yet visible (a delayVisibility fault)
    keys: dict[str, Idempotent]

    def texts(self) -> Iterator[tuple[int, str]]:
        """(seq, JSON text) of every document, in seq order. O(events)."""
        if not self.hidden:
            assert self.state is not None or not self.seqs
            for seq in self.seqs:
                yield seq, self.state.doc_text(seq)  # type: ignore[union-attr]
            return
        merged = sorted([*self.seqs, *self.hidden])
        for seq in merged:
            doc = self.hidden.get(seq)
            if doc is not None:
                yield seq, dump_json(doc)
            else:
                assert self.state is not None
                yield seq, self.state.doc_text(seq)
