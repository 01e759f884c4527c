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
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tinydb import TinyDB
from tinydb.table import Document

from . import actor_views as views
from .actor_views import event_id, public
from .codec import dump_json, load_json
from .errors import IdempotencyConflict
from .identity import Conflict, IdentityGraph, Node
from .segments import event_db
from .timeline import HIGHEST, LOWEST, Timeline, time_key, time_text
from .validation import Normalized

SEGMENT_SIZE = 256
# Refusals kept for tokens that have no tenant (no accepted write yet), across all of them:
# enough for a misconfigured client to see why nothing arrives, bounded however many tokens try.
STRAY_REJECTED_KEPT = 1000

Doc = dict[str, Any]


def tenant_key(token: str) -> str:
    """Tenants are keyed by a digest so tokens never reach the journal or the logs."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:32]


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
class _Strays:
    """The refusals kept for a token that has no tenant yet."""

    kept: deque[Rejected] = field(default_factory=deque)
    total: int = 0


@dataclass
class _Idempotent:
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
    idempotency: dict[str, _Idempotent] = field(default_factory=dict)
    conflicts: list[Conflict] = field(default_factory=list)
    rejected: deque[Rejected] = field(default_factory=deque)
    rejected_total: int = 0
    replays: int = 0
    # What apply saw, independently of the claims `prepare` makes: a key stored twice is a bug.
    stored_keys: set[str] = field(default_factory=set)
    duplicate_keys: set[str] = field(default_factory=set)
    decoded: int = 0  # documents read back so far, for tests that assert the work of a read

    def doc(self, seq: int) -> Doc:
        """O(1): a segment table, then a dict look-up and one JSON decode."""
        table = self.db.table(f"events.{(seq - 1) // SEGMENT_SIZE:08d}")
        found = table.get(doc_id=seq)
        assert isinstance(found, dict), f"event {seq} is indexed but missing"
        self.decoded += 1
        doc: Doc = load_json(found["json"])
        return doc

    def event_time(self, seq: int) -> str:
        """The stored eventTime of event `seq`, without decoding it. O(1)."""
        return time_text(self.timeline.time_of(seq))

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
        # Refusals of tokens without a tenant, oldest first: a refused request creates nothing
        # (STRAY_REJECTED_KEPT of them are kept in all, so /_mock/rejected can still show them).
        self._strays: OrderedDict[str, _Strays] = OrderedDict()
        self._stray_count = 0

    def tenant(self, key: str) -> Tenant:
        """The tenant's state, created by its first accepted write (`prepare`) only."""
        found = self._tenants.get(key)
        if found is None:
            found = self._tenants[key] = Tenant(self._rejected_kept)
            strays = self._strays.pop(key, None)
            if strays is not None:
                self._stray_count -= len(strays.kept)
                found.rejected.extend(strays.kept)
                found.rejected_total = strays.total
        return found

    def _view(self, key: str) -> Tenant:
        """The tenant's state for reading: an unknown token reads as empty and costs nothing."""
        found = self._tenants.get(key)
        if found is not None:
            return found
        empty = Tenant(self._rejected_kept)
        strays = self._strays.get(key)
        if strays is not None:
            empty.rejected.extend(strays.kept)
            empty.rejected_total = strays.total
        return empty

    def tenant_count(self) -> int:
        return len(self._tenants)

    def decoded(self) -> int:
        """Documents decoded so far, over every tenant (tests assert the work of a read)."""
        return sum(state.decoded for state in self._tenants.values())

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
        """The journal refused `prepared`: release its Idempotency-Key, and forget a tenant that
        this write was creating (a failed request leaves no state behind)."""
        state = self._tenants.get(prepared.tenant)
        if state is None:
            return
        if prepared.key is not None:
            state.idempotency.pop(prepared.key, None)
        if not state.seqs and not state.idempotency and not state.rejected:
            # Its next id stays taken (an id is never reused): one integer, not a tenant.
            del self._tenants[prepared.tenant]

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
            state.timeline.add(seq, doc["eventTime"])
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
        state = self._tenants.get(tenant)
        if state is None:  # no tenant yet: kept among the strays, bounded over all of them
            strays = self._strays.setdefault(tenant, _Strays())
            self._strays.move_to_end(tenant)
            strays.kept.append(rejected)
            strays.total += 1
            self._stray_count += 1
            if len(strays.kept) > self._rejected_kept:
                strays.kept.popleft()
                self._stray_count -= 1
            while self._stray_count > STRAY_REJECTED_KEPT:  # O(1) amortized
                oldest = next(iter(self._strays.values()))
                oldest.kept.popleft()
                self._stray_count -= 1
                if not oldest.kept:
                    self._strays.popitem(last=False)
            return
        state.rejected_total += 1
        state.rejected.append(rejected)
        while len(state.rejected) > self._rejected_kept:
            state.rejected.popleft()

    # -- reading ---------------------------------------------------------------------------

    def count(self, tenant: str, query: EventQuery) -> int:
        state = self._view(tenant)
        if query.event_type is query.user_id is query.anonymous_id is None:  # time range alone
            return state.timeline.count_between(*_bounds(query))  # O(log n)
        return len(self._matching(state, query))

    def graph(self, tenant: str) -> IdentityGraph:
        return self._view(tenant).graph

    def merges(self, tenant: str) -> int:
        """Links made so far in the tenant (a write that changes it stitched actors)."""
        state = self._tenants.get(tenant)
        return 0 if state is None else state.graph.merges

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
        since, until = _bounds(query)
        if seqs is state.seqs:  # a time range alone: O(log n + k log k) by the time order
            return state.timeline.between(since, until)
        within = state.timeline.within  # O(candidates), integers only, nothing decoded
        return [s for s in seqs if within(s, since, until)]

    def actor(self, tenant: str, node: Node, limit: int = views.DEFAULT_EVENTS,
              offset: int = 0) -> dict[str, Any]:
        return views.actor(self._view(tenant), node, limit, offset)

    def label_history(self, tenant: str, node: Node, label: str) -> list[dict[str, Any]]:
        return views.label_history(self._view(tenant), node, label)

    def actors(self, tenant: str, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
        """O(offset + limit): the graph keeps its actors in first-seen order."""
        graph = self._view(tenant).graph
        return graph.actor_count(), [views.summary(a) for a in graph.page(offset, limit)]

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


def _bounds(query: EventQuery) -> tuple[int, int]:
    return (LOWEST if query.since is None else time_key(query.since),
            HIGHEST if query.until is None else time_key(query.until))


def _add_in_order(seqs: array[int], seq: int) -> None:
    if not seqs or seqs[-1] < seq:
        seqs.append(seq)  # the usual case, O(1)
    else:
        insort(seqs, seq)
