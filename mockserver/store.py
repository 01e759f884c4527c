"""The event store: TinyDB documents per tenant (tenant.py), indexes, identity graph, profiles.

Pure domain logic, no I/O and no clock: the caller passes the time, and persistence is the
journal's job. Writing is two steps so that an event becomes visible only once it is durable:
`prepare` (assign ids, check the Idempotency-Key) then, once the journal has it, `settle` (the
key is remembered by the tenant as it is then, so a reset in between cannot forget it) and
`apply` (visible).
"""

from __future__ import annotations

import hashlib
import json
from array import array
from bisect import insort
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ActorNotFound, IdempotencyConflict
from .identity import Node
from .tenant import SEGMENT_SIZE, Doc, Idempotent, Tenant, TenantView
from .validation import Normalized

__all__ = ["SEGMENT_SIZE", "Doc", "EventQuery", "Prepared", "Rejected", "Replay", "Store",
           "Tenant", "TenantView", "event_id", "public", "tenant_key"]

IDENTIFY = "identify"


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


class Store:
    def __init__(self, rejected_kept: int = 200) -> None:
        self._rejected_kept = rejected_kept
        self._tenants: dict[str, Tenant] = {}
        # Ids count per tenant (and survive a reset), so no tenant learns how busy others are.
        self._next_seq: dict[str, int] = {}
        # The JSON text of every stored document, in bytes (what compaction weighs live data by).
        self.live_bytes = 0

    def tenant(self, key: str) -> Tenant:
        """The tenant's state, created on first write."""
        found = self._tenants.get(key)
        if found is None:
            found = self._tenants[key] = Tenant(self._rejected_kept)
        return found

    def tenants(self) -> list[str]:
        return list(self._tenants)

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
        seen = None if key is None else state.idempotency.get(key) or state.claims.get(key)
        if seen is not None:
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
            state.claims[key] = Idempotent(prepared.ids, fp)
        return prepared

    def abort(self, prepared: Prepared) -> None:
        """The journal refused `prepared`: release its Idempotency-Key."""
        if prepared.key is not None and (state := self._tenants.get(prepared.tenant)):
            state.claims.pop(prepared.key, None)

    def settle(self, prepared: Prepared) -> None:
        """`prepared` is durable: its key is remembered by the tenant as it is now. A reset
        between `prepare` and now dropped the claim with the old state; journal order decides
        (a reset journaled after this write forgets the key together with its events)."""
        if prepared.key is None:
            return
        state = self.tenant(prepared.tenant)
        state.claims.pop(prepared.key, None)
        state.idempotency[prepared.key] = Idempotent(prepared.ids, prepared.fingerprint)

    def apply(self, prepared: Prepared, texts: list[str] | None = None) -> None:
        """Make `prepared` visible. Usually in id order; a write whose visibility was delayed
        (a delayVisibility fault) comes later and is still listed in id order."""
        state = self.tenant(prepared.tenant)
        key = prepared.key
        if key is not None:
            if key in state.stored_keys:
                state.duplicate_keys.add(key)
            state.stored_keys.add(key)
        before = state.text_bytes
        state.insert(prepared.docs, texts)
        self.live_bytes += state.text_bytes - before
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
        gone = self._tenants.pop(tenant, None)
        if gone is not None:
            self.live_bytes -= gone.text_bytes

    def replay(self, record: Mapping[str, Any]) -> None:
        """Rebuild state from one journal record."""
        if record["op"] == "reset":
            self.reset(record["t"])
            return
        prepared = Prepared(record["t"], record["docs"], record["k"], record["fp"])
        self.restore_next_seq(prepared.tenant, prepared.docs[-1]["seq"] + 1)
        self.settle(prepared)
        self.apply(prepared)

    def restore_next_seq(self, tenant: str, next_seq: int) -> None:
        self._next_seq[tenant] = max(self._next_seq.get(tenant, 1), next_seq)

    def restore_key(self, tenant: str, key: str, ids: list[str], fp: str | None) -> None:
        state = self.tenant(tenant)
        state.idempotency[key] = Idempotent(ids, fp)
        state.stored_keys.add(key)

    def capture(self, hidden: Iterable[Prepared]) -> list[TenantView]:
        """What a snapshot holds, fixed now: every tenant's durable state, `hidden` (durable
        writes not yet visible) included. Costs O(events + keys) of copying arrays and dicts
        (about 10 ms per million events), never a document: those are read later, from
        another thread, through each view's Tenant, which a reset replaces rather than empties.
        """
        extra: dict[str, dict[int, Doc]] = {}
        for prepared in hidden:
            for doc in prepared.docs:
                extra.setdefault(prepared.tenant, {})[doc["seq"]] = doc
        views = []
        for key, next_seq in self._next_seq.items():
            state = self._tenants.get(key)
            if state is None:
                views.append(TenantView(key, next_seq, None, array("q"), {}, {}))
                continue
            views.append(TenantView(key, next_seq, state, array("q", state.seqs),
                                    extra.get(key, {}), dict(state.idempotency)))
        return views

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

    def listed(self, tenant: str) -> Iterator[tuple[int, Doc]]:
        """(sequence number, event as GET /_mock/events lists it) of every event, in order.
        O(events)."""
        state = self._view(tenant)
        for seq in state.seqs:
            yield seq, public(state.doc(seq))

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
