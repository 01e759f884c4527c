"""The event store: TinyDB documents per tenant, indexes, identity graph and profiles.

Pure domain logic, no I/O and no clock: the caller passes the time, and persistence is the
journal's job. Writing is two steps so that an event becomes visible only once it is durable:
`prepare` (assign ids, check the Idempotency-Key) then, after the journal has it, `apply`.

TinyDB rewrites a whole table on every insert, so events live in fixed-size segment tables:
an insert never touches more than SEGMENT_SIZE documents, however many are stored.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tinydb import TinyDB
from tinydb.storages import MemoryStorage
from tinydb.table import Document

from .errors import ActorNotFound, IdempotencyConflict
from .identity import Conflict, IdentityGraph, Node
from .validation import Normalized

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


@dataclass
class Tenant:
    rejected_kept: int
    db: TinyDB = field(default_factory=lambda: TinyDB(storage=MemoryStorage))
    graph: IdentityGraph = field(default_factory=IdentityGraph)
    seqs: list[int] = field(default_factory=list)
    by_type: dict[str, list[int]] = field(default_factory=dict)
    idempotency: dict[str, _Idempotent] = field(default_factory=dict)
    conflicts: list[Conflict] = field(default_factory=list)
    rejected: deque[Rejected] = field(default_factory=deque)
    rejected_total: int = 0
    replays: int = 0

    def doc(self, seq: int) -> Doc:
        table = self.db.table(f"events.{(seq - 1) // SEGMENT_SIZE:08d}")
        found = table.get(doc_id=seq)
        assert isinstance(found, dict), f"event {seq} is indexed but missing"
        return dict(found)

    def insert(self, docs: list[Doc]) -> None:
        by_segment: dict[int, list[Document]] = {}
        for doc in docs:
            seq = doc["seq"]
            by_segment.setdefault((seq - 1) // SEGMENT_SIZE, []).append(Document(doc, seq))
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
        prepared = Prepared(tenant, docs, key, fp)
        if key is not None:  # claimed now, so a concurrent retry waits on this one's ids
            state.idempotency[key] = _Idempotent(prepared.ids, fp)
        return prepared

    def abort(self, prepared: Prepared) -> None:
        """The journal refused `prepared`: release its Idempotency-Key."""
        if prepared.key is not None:
            self.tenant(prepared.tenant).idempotency.pop(prepared.key, None)

    def apply(self, prepared: Prepared) -> None:
        state = self.tenant(prepared.tenant)
        state.insert(prepared.docs)
        for doc in prepared.docs:
            seq = doc["seq"]
            state.seqs.append(seq)
            state.by_type.setdefault(doc["event"]["eventType"], []).append(seq)
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
        seqs: list[int] | None = None
        for name, value in (("userId", query.user_id), ("anonymousId", query.anonymous_id)):
            if value is None:
                continue
            actor = state.graph.actor_of((query.actor_type, name, value))
            found = actor.seqs if actor is not None else []
            seqs = found if seqs is None else sorted(set(seqs) & set(found))
        if query.event_type is not None:
            typed = state.by_type.get(query.event_type, [])
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
        }


def public(doc: Doc) -> Doc:
    return {"id": doc["id"], "receivedAt": doc["receivedAt"], "eventTime": doc["eventTime"],
            "event": doc["event"]}


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
