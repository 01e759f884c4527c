"""The event store: TinyDB documents per tenant, indexes, identity graph and profiles.

Pure domain logic, no I/O and no clock: the caller passes the time, and persistence is the
journal's job. Writing is two steps so that an event becomes visible only once it is durable:
`prepare` (assign ids, check the Idempotency-Key) then, after the journal has it, `apply`.

Flat cost as the store grows: TinyDB's own insert rewrites a whole table, so events live in
fixed-size segment tables (SEGMENT_SIZE documents each) whose inserts add documents instead of
rewriting the table (`_AppendTable`); an insert costs the same with 10 or 10 million stored.
Small in memory: each TinyDB document holds its event as one compact JSON string (about a third
of the memory of the parsed dicts, and nothing for the garbage collector to walk); `Tenant.doc`
reads it back as the very same values.
"""

from __future__ import annotations

import hashlib
import json
from array import array
from bisect import insort
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tinydb import TinyDB
from tinydb.storages import MemoryStorage
from tinydb.table import Document, Table

from .errors import ActorNotFound, IdempotencyConflict
from .identity import Conflict, IdentityGraph, Node
from .validation import Normalized, dump_json, load_json

SEGMENT_SIZE = 256
IDENTIFY = "identify"

Doc = dict[str, Any]


def tenant_key(token: str) -> str:
    """Tenants are keyed by a digest so tokens never reach the journal or the logs."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:32]


def event_id(seq: int) -> str:
    return f"evt_{seq:010d}"


def fingerprint(events: Iterable[Any]) -> str:
    canonical = json.dumps(list(events), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Prepared:
    tenant: str
    docs: list[Doc]
    key: str | None
    fingerprint: str | None

    @property
    def ids(self) -> list[str]:
        return [doc["id"] for doc in self.docs]

    def record(self) -> dict[str, Any]:
        return {"op": "add", "t": self.tenant, "k": self.key, "fp": self.fingerprint,
                "docs": self.docs}


@dataclass(frozen=True)
class Replay:
    """A repeated Idempotency-Key: nothing new is stored."""

    ids: list[str]


@dataclass(frozen=True)
class EventQuery:
    event_type: str | None = None
    user_id: str | None = None
    anonymous_id: str | None = None
    actor_type: str = "Customer"
    since: str | None = None  # normalized UTC ISO, compared as strings
    until: str | None = None
    limit: int = 100
    offset: int = 0
    newest_first: bool = False


@dataclass
class Rejected:
    at: str
    method: str
    path: str
    status: int
    code: str
    message: str
    violations: list[dict[str, str]]
    excerpt: str

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at, "method": self.method, "path": self.path, "status": self.status,
                "code": self.code, "message": self.message, "violations": self.violations,
                "bodyExcerpt": self.excerpt}


@dataclass
class _Idempotent:
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


@dataclass
class Tenant:
    rejected_kept: int
    db: TinyDB = field(default_factory=_event_db)
    graph: IdentityGraph = field(default_factory=IdentityGraph)
    # Event ids as machine integers (see identity.IdentityGraph._events): no per-event objects
    # for the garbage collector to walk, however many events are stored.
    seqs: array[int] = field(default_factory=lambda: array("q"))
    by_type: dict[str, array[int]] = field(default_factory=dict)
    idempotency: dict[str, _Idempotent] = field(default_factory=dict)
    conflicts: list[Conflict] = field(default_factory=list)
    rejected: deque[Rejected] = field(default_factory=deque)
    rejected_total: int = 0
    replays: int = 0
    # What apply saw, independently of the claims `prepare` makes: a key stored twice is a bug.
    stored_keys: set[str] = field(default_factory=set)
    duplicate_keys: set[str] = field(default_factory=set)

    def doc(self, seq: int) -> Doc:
        table = self.db.table(f"events.{(seq - 1) // SEGMENT_SIZE:08d}")
        found = table.get(doc_id=seq)
        assert isinstance(found, dict), f"event {seq} is indexed but missing"
        doc: Doc = load_json(found["json"])
        return doc

    def insert(self, docs: list[Doc]) -> None:
        by_segment: dict[int, list[Document]] = {}
        for doc in docs:
            seq = doc["seq"]
            document = Document({"json": dump_json(doc)}, seq)
            by_segment.setdefault((seq - 1) // SEGMENT_SIZE, []).append(document)
        for segment, documents in by_segment.items():
            self.db.table(f"events.{segment:08d}").insert_multiple(documents)


class Store:
    def __init__(self, rejected_kept: int = 200) -> None:
        self._rejected_kept = rejected_kept
        self._tenants: dict[str, Tenant] = {}
        # Ids count per tenant (and survive a reset), so no tenant learns how busy others are.
        self._next_seq: dict[str, int] = {}

    def tenant(self, key: str) -> Tenant:
        """The tenant's state, created on first write."""
        found = self._tenants.get(key)
        if found is None:
            found = self._tenants[key] = Tenant(self._rejected_kept)
        return found

    def _view(self, key: str) -> Tenant:
        """The tenant's state for reading: an unknown token reads as empty and costs nothing."""
        return self._tenants.get(key) or Tenant(self._rejected_kept)

    # -- writing ---------------------------------------------------------------------------

    def prepare(
        self,
        tenant: str,
        items: list[tuple[Mapping[str, Any], Normalized]],
        received_at: str,
        key: str | None = None,
    ) -> Prepared | Replay:
        state = self.tenant(tenant)
        fp = fingerprint(event for event, _ in items) if key is not None else None
        if key is not None and (seen := state.idempotency.get(key)) is not None:
            if seen.fingerprint != fp:
                raise IdempotencyConflict(
                    "this Idempotency-Key was used before with a different body; "
                    "use a new key for a new event",
                    {"idempotencyKey": key, "originalIds": seen.ids},
                )
            state.replays += 1
            return Replay(seen.ids)
        docs = []
        for event, normalized in items:
            seq = self._next_seq.get(tenant, 1)
            self._next_seq[tenant] = seq + 1
            docs.append({
                "seq": seq, "id": event_id(seq), "receivedAt": received_at,
                "eventTime": normalized.event_time_iso, "numbers": normalized.numbers,
                "event": event,
            })
            if key is not None:  # only then: no bytes spent per event sent without a key
                docs[-1]["idempotencyKey"] = key
        prepared = Prepared(tenant, docs, key, fp)
        if key is not None:  # claimed now, so a concurrent retry waits on this one's ids
            state.idempotency[key] = _Idempotent(prepared.ids, fp)
        return prepared

    def abort(self, prepared: Prepared) -> None:
        """The journal refused `prepared`: release its Idempotency-Key."""
        if prepared.key is not None:
            self.tenant(prepared.tenant).idempotency.pop(prepared.key, None)

    def apply(self, prepared: Prepared) -> None:
        """Make `prepared` visible. Usually in id order; a write whose visibility was delayed
        (a delayVisibility fault) comes later and is still listed in id order."""
        state = self.tenant(prepared.tenant)
        key = prepared.key
        if key is not None:
            if key in state.stored_keys:
                state.duplicate_keys.add(key)
            state.stored_keys.add(key)
        state.insert(prepared.docs)
        for doc in prepared.docs:
            seq = doc["seq"]
            _add_in_order(state.seqs, seq)
            event_type = doc["event"]["eventType"]
            typed = state.by_type.get(event_type)
            if typed is None:
                typed = state.by_type[event_type] = array("q")
            _add_in_order(typed, seq)
            state.conflicts.extend(state.graph.observe(seq, doc["event"]["actors"]))

    def reset(self, tenant: str) -> None:
        self._tenants.pop(tenant, None)

    def replay(self, record: Mapping[str, Any]) -> None:
        """Rebuild state from one journal record."""
        if record["op"] == "reset":
            self.reset(record["t"])
            return
        prepared = Prepared(record["t"], record["docs"], record["k"], record["fp"])
        state = self.tenant(prepared.tenant)
        if prepared.key is not None:
            state.idempotency[prepared.key] = _Idempotent(prepared.ids, prepared.fingerprint)
        self._next_seq[prepared.tenant] = max(
            self._next_seq.get(prepared.tenant, 1), prepared.docs[-1]["seq"] + 1)
        self.apply(prepared)

    def reject(self, tenant: str, rejected: Rejected) -> None:
        state = self.tenant(tenant)
        state.rejected_total += 1
        state.rejected.append(rejected)
        while len(state.rejected) > self._rejected_kept:
            state.rejected.popleft()

    # -- reading ---------------------------------------------------------------------------

    def count(self, tenant: str, query: EventQuery) -> int:
        return len(self._matching(self._view(tenant), query))

    def events(self, tenant: str, query: EventQuery) -> tuple[int, list[Doc]]:
        state = self._view(tenant)
        seqs = self._matching(state, query)
        if query.newest_first:
            seqs = seqs[::-1]
        page = seqs[query.offset: query.offset + query.limit]
        return len(seqs), [public(state.doc(seq)) for seq in page]

    def _matching(self, state: Tenant, query: EventQuery) -> list[int]:
        seqs: Sequence[int] | None = None
        for name, value in (("userId", query.user_id), ("anonymousId", query.anonymous_id)):
            if value is None:
                continue
            actor = state.graph.actor_of((query.actor_type, name, value))
            found = actor.seqs if actor is not None else []
            seqs = found if seqs is None else sorted(set(seqs) & set(found))
        if query.event_type is not None:
            typed: Sequence[int] = state.by_type.get(query.event_type, [])
            seqs = typed if seqs is None else sorted(set(seqs) & set(typed))
        if seqs is None:
            seqs = state.seqs
        if query.since is None and query.until is None:
            return list(seqs)
        since, until = query.since or "", query.until or "\uffff"
        return [s for s in seqs if since <= state.doc(s)["eventTime"] <= until]

    def actor(self, tenant: str, node: Node) -> dict[str, Any]:
        state = self._view(tenant)
        actor = state.graph.actor_of(node)
        if actor is None:
            raise ActorNotFound(
                f"no actor of type {node[0]!r} has {node[1]} {node[2]!r}",
                {"actorType": node[0], node[1]: node[2]},
            )
        docs = [state.doc(seq) for seq in actor.seqs]
        labels, numbers = profile(docs)
        by_seq = {doc["seq"]: doc for doc in docs}
        return {
            "actorType": actor.actor_type,
            "userId": actor.user_id,
            "identifiers": actor.identifiers(),
            "labels": labels,
            "numbers": numbers,
            "eventCount": len(docs),
            "events": [public(doc) for doc in docs],
            "links": [
                {"eventId": event_id(link.seq),
                 "eventTime": by_seq[link.seq]["eventTime"] if link.seq in by_seq else None,
                 "identifiers": [{"name": n, "value": v} for _, n, v in link.nodes]}
                for link in actor.links
            ],
        }

    def label_history(self, tenant: str, node: Node, label: str) -> list[dict[str, Any]]:
        """Every value an identify event of the actor set for `label` (a label or a number),
        by eventTime, ties by arrival: the timeline behind the profile's latest value."""
        state = self._view(tenant)
        actor = state.graph.actor_of(node)
        if actor is None:
            raise ActorNotFound(
                f"no actor of type {node[0]!r} has {node[1]} {node[2]!r}",
                {"actorType": node[0], node[1]: node[2]},
            )
        docs = [state.doc(seq) for seq in actor.seqs]
        identifies = sorted(
            (d for d in docs if d["event"]["eventType"] == IDENTIFY),
            key=lambda d: (d["eventTime"], d["seq"]),
        )
        history: list[dict[str, Any]] = []
        for doc in identifies:
            if label in doc["numbers"]:  # as in profile(): numbers are applied after labels
                history.append({"eventTime": doc["eventTime"], "value": doc["numbers"][label]})
            elif label in (labels := doc["event"].get("labels", {})):
                history.append({"eventTime": doc["eventTime"], "value": labels[label]})
        return history

    def actors(self, tenant: str, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
        state = self._view(tenant)
        everyone = sorted(state.graph.actors(), key=lambda a: a.seqs[0] if a.seqs else 0)
        page = everyone[offset: offset + limit]
        return len(everyone), [
            {"actorType": a.actor_type, "userId": a.user_id, "identifiers": a.identifiers(),
             "eventCount": len(a.seqs)}
            for a in page
        ]

    def conflicts(self, tenant: str) -> list[dict[str, Any]]:
        return [
            {"actorType": c.actor_type, "identifier": {"name": c.identifier[0],
                                                       "value": c.identifier[1]},
             "existingUserId": c.existing_user_id, "attemptedUserId": c.attempted_user_id,
             "eventId": event_id(c.seq)}
            for c in self._view(tenant).conflicts
        ]

    def rejected(self, tenant: str) -> list[dict[str, Any]]:
        return [r.as_dict() for r in reversed(self._view(tenant).rejected)]

    def stats(self, tenant: str) -> dict[str, Any]:
        state = self._view(tenant)
        return {
            "events": len(state.seqs),
            "eventTypes": {t: len(s) for t, s in sorted(state.by_type.items())},
            "actors": state.graph.actor_count(),
            "stitchedActors": state.graph.stitched_count(),
            "conflicts": len(state.conflicts),
            "rejected": state.rejected_total,
            "idempotentReplays": state.replays,
            "duplicateIdempotencyKeys": len(state.duplicate_keys),
        }


def _add_in_order(seqs: array[int], seq: int) -> None:
    if not seqs or seqs[-1] < seq:
        seqs.append(seq)  # the usual case, O(1)
    else:
        insort(seqs, seq)


def public(doc: Doc) -> Doc:
    # idempotencyKey: how a client (the connector sends the Segment messageId) finds its event;
    # absent from events stored without one and from journals written before it was kept.
    return {"id": doc["id"], "receivedAt": doc["receivedAt"], "eventTime": doc["eventTime"],
            "idempotencyKey": doc.get("idempotencyKey"), "event": doc["event"]}


def profile(docs: Iterable[Doc]) -> tuple[dict[str, Any], dict[str, int | float]]:
    """Latest label and number values from identify events, by eventTime, ties by arrival."""
    labels: dict[str, Any] = {}
    numbers: dict[str, int | float] = {}
    identifies = sorted(
        (d for d in docs if d["event"]["eventType"] == IDENTIFY),
        key=lambda d: (d["eventTime"], d["seq"]),
    )
    for doc in identifies:
        for key, value in doc["event"].get("labels", {}).items():
            numbers.pop(key, None)
            labels[key] = value
        for key, number in doc["numbers"].items():
            labels.pop(key, None)
            numbers[key] = number
    return dict(sorted(labels.items())), dict(sorted(numbers.items()))
