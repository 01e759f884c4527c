"""One tenant's state in the event store: its documents, indexes and identity graph.

Pure data, no I/O. The in-memory layout is ours, not TinyDB's: TinyDB is the format of the
record's snapshots and of exports (record/snapshot.py writes them, `tinydb.TinyDB(path)` opens
them), while in memory each document is one compact JSON string in a dict keyed by its id: an
insert costs the same with 10 or 10 million stored (TinyDB's own insert rewrites a whole table),
about a third of the memory of the parsed dicts, and nothing for the garbage collector to walk.
`Tenant.doc` reads a document back as the very same values.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from mockserver.state.documents import decode
from mockserver.state.identity import Conflict, IdentityGraph
from mockserver.state.refusals import Rejected
from mockserver.state.timeline import Timeline, time_text

__all__ = ["Doc", "Idempotent", "Tenant", "TenantView"]

Doc = dict[str, Any]


@dataclass(frozen=True)
class Idempotent:
    ids: list[str]
    fingerprint: str | None


@dataclass
class Tenant:
    rejected_kept: int
    texts: dict[int, str] = field(default_factory=dict)  # document JSON text by id
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
    # Stored but not shown by reads yet (a delayVisibility fault: service/visibility.py), with
    # their event types so stats can leave them out without decoding them.
    hidden: dict[int, str] = field(default_factory=dict)
    # The stored documents' JSON text, in bytes: what compaction weighs live data by.
    text_bytes: int = 0
    decoded: int = 0  # documents read back so far, for tests that assert the work of a read

    def doc(self, seq: int) -> Doc:
        """O(1): a dict look-up and one JSON decode."""
        self.decoded += 1
        return decode(self.doc_text(seq))

    def event_time(self, seq: int) -> str:
        """The stored eventTime of event `seq`, without decoding it. O(1)."""
        return time_text(self.timeline.time_of(seq))

    def doc_text(self, seq: int) -> str:
        """The stored document's JSON text (documents.py: `_index` first). One dict look-up, no
        copy: safe to call from another thread while the event loop inserts (compaction reads
        documents this way)."""
        found = self.texts.get(seq)
        assert found is not None, f"event {seq} is indexed but missing"
        return found

    def insert(self, seqs: list[int], texts: list[str]) -> None:
        """Add the documents of ids `seqs` whose stored JSON texts are `texts`. O(len(seqs))."""
        stored = self.texts
        before = len(stored)
        stored.update(zip(seqs, texts, strict=True))  # one C call, as a restart needs
        if len(stored) != before + len(seqs):
            raise ValueError(f"a document among ids {seqs[0]}..{seqs[-1]} already exists")
        self.text_bytes += sum(map(len, texts))


@dataclass(frozen=True)
class TenantView:
    """A tenant as a snapshot holds it (Store.capture): `seqs` and `keys` are copies; the
    documents are read through `state`, which only ever grows (a reset replaces it)."""

    tenant: str
    next_seq: int
    state: Tenant | None
    seqs: array[int]
    keys: dict[str, Idempotent]

    def texts(self) -> Iterator[tuple[int, str]]:
        """(seq, JSON text) of every document, in seq order. O(events)."""
        assert self.state is not None or not self.seqs
        for seq in self.seqs:
            yield seq, self.state.doc_text(seq)  # type: ignore[union-attr]
