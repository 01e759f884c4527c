"""One tenant's state in the event store: its TinyDB documents, indexes and identity graph.

Pure data, no I/O. Flat cost as the store grows: TinyDB's own insert rewrites a whole table, so
events live in fixed-size segment tables (SEGMENT_SIZE documents each) whose inserts add
documents instead of rewriting the table (segments.py); an insert costs the same with 10 or
10 million stored. Small in memory: each TinyDB document holds its event as one compact JSON
string (about a third of the memory of the parsed dicts, and nothing for the garbage collector
to walk); `Tenant.doc` reads it back as the very same values.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tinydb import TinyDB

from mockserver.state.documents import decode, indexed_text
from mockserver.state.identity import Conflict, IdentityGraph
from mockserver.state.refusals import Rejected
from mockserver.state.segments import SEGMENT_SIZE, event_db, segment_name
from mockserver.state.timeline import Timeline, time_text

__all__ = ["SEGMENT_SIZE", "Doc", "Idempotent", "Tenant", "TenantView"]

Doc = dict[str, Any]


@dataclass(frozen=True)
class Idempotent:
    ids: list[str]
    fingerprint: str | None


@dataclass
class Tenant:
    rejected_kept: int
    db: TinyDB = field(default_factory=event_db)
    graph: IdentityGraph = field(default_factory=IdentityGraph)
    timeline: Timeline = field(default_factory=Timeline)
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
    decoded: int = 0  # documents read back so far, for tests that assert the work of a read

    def doc(self, seq: int) -> Doc:
        """O(1): a segment table, then a dict look-up and one JSON decode."""
        self.decoded += 1
        return decode(self.doc_text(seq))

    def event_time(self, seq: int) -> str:
        """The stored eventTime of event `seq`, without decoding it. O(1)."""
        return time_text(self.timeline.time_of(seq))

    def doc_text(self, seq: int) -> str:
        """The stored document's JSON text (doc_index.py: `_index` first). Two dict look-ups, no
        copy: safe to call from another thread while the event loop inserts (compaction reads
        documents this way)."""
        tables: dict[str, dict[str, dict[str, str]]] = self.db.storage.read()  # type: ignore[assignment]
        found = tables.get(segment_name(seq), {}).get(str(seq))
        assert found is not None, f"event {seq} is indexed but missing"
        return found["json"]

    def insert(self, seqs: list[int], texts: list[str]) -> None:
        """Add the documents of ids `seqs` whose stored JSON texts are `texts`.

        Straight into the MemoryStorage's tables, as _AppendTable.insert_multiple would put
        them (the same {"json": text} documents under str(doc_id)), without its per-document
        Document objects: the difference is a third of a restart's time. O(len(seqs))."""
        storage = self.db.storage
        tables: dict[str, dict[str, dict[str, str]]] | None = storage.read()
        if tables is None:
            tables = {}
            storage.write(tables)
        number = -1
        segment: dict[str, dict[str, str]] = {}
        for seq, text in zip(seqs, texts, strict=True):
            if (seq - 1) // SEGMENT_SIZE != number:  # a segment table's look-up per segment
                number = (seq - 1) // SEGMENT_SIZE
                name = segment_name(seq)
                segment = tables.setdefault(name, {})
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
                yield seq, indexed_text(doc)
            else:
                assert self.state is not None
                yield seq, self.state.doc_text(seq)
