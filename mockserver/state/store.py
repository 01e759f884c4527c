"""The event store: documents per tenant (tenant.py), indexes, identity graph, profiles.

Pure domain logic, no I/O and no clock: the caller passes the time, and persistence is the
journal's job. Writing is two steps so that an event becomes visible only once it is durable:
`prepare` (assign ids, check the Idempotency-Key) then, once the journal has it, `settle` (the
key is remembered by the tenant as it is then, so a reset in between cannot forget it) and
`apply` (stored and indexed). Reads leave out what `hide` marks until `reveal`: how the
service delays an event's visibility without the write path knowing.
"""

from __future__ import annotations

import hashlib
from array import array
from bisect import insort
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from mockserver.codec import dump_json
from mockserver.errors import IdempotencyConflict
from mockserver.state import actor_views as views
from mockserver.state import documents as doc_index
from mockserver.state.documents import event_id, public
from mockserver.state.identity import IdentityGraph, Node
from mockserver.state.refusals import STRAY_REJECTED_KEPT, Rejected, StrayBook
from mockserver.state.tenant import Doc, Idempotent, Tenant, TenantView
from mockserver.state.timeline import HIGHEST, LOWEST, time_key
from mockserver.state.writes import Prepared, Replay, fingerprint
from mockserver.validation.events import Normalized

__all__ = ["STRAY_REJECTED_KEPT", "Doc", "EventQuery", "Prepared", "Rejected",
           "Replay", "Store", "Tenant", "TenantView", "event_id", "public", "tenant_key"]


@lru_cache(maxsize=1024)  # bounded: a client sending a new token per request churns it, no more
def tenant_key(token: str) -> str:
    """Tenants are keyed by a digest so tokens never reach the journal or the logs."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:32]


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


class Store:
    def __init__(self, rejected_kept: int = 200) -> None:
        self._rejected_kept = rejected_kept
        self._tenants: dict[str, Tenant] = {}
        # Ids count per tenant (and survive a reset), so no tenant learns how busy others are.
        self._next_seq: dict[str, int] = {}
        # The JSON text of every stored document, in bytes (what compaction weighs live data by).
        self.live_bytes = 0
        # Refusals of tokens without a tenant: a refused request creates nothing.
        self._strays = StrayBook(rejected_kept)

    def tenant(self, key: str) -> Tenant:
        """The tenant's state, created by its first accepted write (`prepare`) only."""
        found = self._tenants.get(key)
        if found is None:
            found = self._tenants[key] = Tenant(self._rejected_kept)
            strays = self._strays.take(key)
            if strays is not None:
                found.rejected.extend(strays.kept)
                found.rejected_total = strays.total
        return found

    def tenants(self) -> list[str]:
        return list(self._tenants)

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
            if key is not None:  # only then: no bytes spent per event sent without a key
                docs[-1]["idempotencyKey"] = key
        prepared = Prepared(tenant, docs, key, fp, [dump_json(doc) for doc in docs])
        if key is not None:  # claimed now, so a concurrent retry waits on this one's ids
            state.claims[key] = Idempotent(prepared.ids, fp)
        return prepared

    def abort(self, prepared: Prepared) -> None:
        """The journal refused `prepared`: release its Idempotency-Key, and forget a tenant that
        this write was creating (a failed request leaves no state behind)."""
        state = self._tenants.get(prepared.tenant)
        if state is None:
            return
        if prepared.key is not None:
            state.claims.pop(prepared.key, None)
        if not (state.seqs or state.idempotency or state.claims or state.rejected):
            # Its next id stays taken (an id is never reused): one integer, not a tenant.
            del self._tenants[prepared.tenant]

    def settle(self, prepared: Prepared) -> None:
        """`prepared` is durable: its key is remembered by the tenant as it is now. A reset
        between `prepare` and now dropped the claim with the old state; journal order decides
        (a reset journaled after this write forgets the key together with its events)."""
        if prepared.key is None:
            return
        state = self.tenant(prepared.tenant)
        state.claims.pop(prepared.key, None)
        state.idempotency[prepared.key] = Idempotent(prepared.ids, prepared.fingerprint)

    def apply(self, prepared: Prepared) -> None:
        """Store and index `prepared`, in id order."""
        key = prepared.key
        if key is not None:
            state = self.tenant(prepared.tenant)
            if key in state.stored_keys:
                state.duplicate_keys.add(key)
            state.stored_keys.add(key)
        self.restore_events(prepared.tenant, *doc_index.stored(prepared.docs, prepared.texts))

    def restore_events(self, tenant: str, columns: doc_index.Columns, texts: list[str]) -> None:
        """Add events given by their index fields (`columns`) and stored JSON texts: what
        `apply` does once it has them, and what a restart does with a snapshot's documents
        without decoding them. O(events + identifiers) for every index below."""
        state = self.tenant(tenant)
        seqs = columns.seqs
        if not seqs:
            return
        before = state.text_bytes
        state.insert(seqs, texts)
        self.live_bytes += state.text_bytes - before
        if seqs == sorted(seqs) and (not state.seqs or state.seqs[-1] < seqs[0]):
            state.seqs.extend(seqs)  # the usual case (and a restart's): one C call
        else:
            for seq in seqs:
                _add_in_order(state.seqs, seq)
        state.timeline.add_many(seqs, columns.times)
        by_type, observe, conflicts = state.by_type, state.graph.observe_groups, state.conflicts
        for seq, event_type, groups in zip(seqs, columns.types, columns.actors, strict=True):
            typed = by_type.get(event_type)
            if typed is None:
                typed = by_type[event_type] = array("q")
            if typed and typed[-1] > seq:
                insort(typed, seq)
            else:
                typed.append(seq)  # the usual case, O(1)
            found = observe(seq, groups)
            if found:
                conflicts.extend(found)

    def reset(self, tenant: str) -> None:
        gone = self._tenants.pop(tenant, None)
        if gone is not None:
            self.live_bytes -= gone.text_bytes

    def replay(self, entry: Mapping[str, Any]) -> None:
        """Rebuild state from one journal entry."""
        if entry["op"] == "reset":
            self.reset(entry["t"])
            return
        prepared = Prepared(entry["t"], entry["docs"], entry["k"], entry["fp"])
        self.restore_next_seq(prepared.tenant, prepared.docs[-1]["seq"] + 1)
        self.settle(prepared)
        self.apply(prepared)

    def restore_next_seq(self, tenant: str, next_seq: int) -> None:
        self._next_seq[tenant] = max(self._next_seq.get(tenant, 1), next_seq)

    def restore_key(self, tenant: str, key: str, ids: list[str], fp: str | None) -> None:
        state = self.tenant(tenant)
        state.idempotency[key] = Idempotent(ids, fp)
        state.stored_keys.add(key)

    def capture(self) -> list[TenantView]:
        """What a snapshot holds, fixed now: every tenant's durable state. Costs O(events +
        keys) of copying arrays and dicts (about 10 ms per million events), never a document:
        those are read later, from another thread, through each view's Tenant, which a reset
        replaces rather than empties."""
        captured = []
        for key, next_seq in self._next_seq.items():
            state = self._tenants.get(key)
            if state is None:  # reset, or forgotten by `abort`
                captured.append(TenantView(key, next_seq, None, array("q"), {}))
                continue
            captured.append(TenantView(key, next_seq, state, array("q", state.seqs),
                                       dict(state.idempotency)))
        return captured

    def hide(self, tenant: str, docs: Iterable[Doc]) -> None:
        """Leave the stored `docs` out of every read until `reveal`. O(len(docs))."""
        hidden = self.tenant(tenant).hidden
        for doc in docs:
            hidden[doc["seq"]] = doc["event"]["eventType"]

    def reveal(self, tenant: str, seqs: Iterable[int]) -> list[Doc]:
        """Show hidden events again; returns the documents of those still stored (a reset may
        have dropped them), decoded. O(len(seqs))."""
        state = self._tenants.get(tenant)
        if state is None:
            return []
        shown = [seq for seq in seqs if state.hidden.pop(seq, None) is not None]
        return [state.doc(seq) for seq in shown]

    def reject(self, tenant: str, rejected: Rejected) -> None:
        state = self._tenants.get(tenant)
        if state is None:  # no tenant yet: kept among the strays, bounded over all of them
            self._strays.add(tenant, rejected)
            return
        state.rejected_total += 1
        state.rejected.append(rejected)
        while len(state.rejected) > self._rejected_kept:
            state.rejected.popleft()

    # -- reading ---------------------------------------------------------------------------

    def count(self, tenant: str, query: EventQuery) -> int:
        state = self._view(tenant)
        if (query.event_type is query.user_id is query.anonymous_id is None
                and not state.hidden):  # a time range alone
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
            found = list(seqs)
        else:
            since, until = _bounds(query)
            if seqs is state.seqs:  # a time range alone: O(log n + k log k) by the time order
                found = state.timeline.between(since, until)
            else:
                within = state.timeline.within  # O(candidates), integers only, none decoded
                found = [s for s in seqs if within(s, since, until)]
        if state.hidden:  # O(found)
            found = [seq for seq in found if seq not in state.hidden]
        return found

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
        types = {t: len(s) for t, s in sorted(state.by_type.items())}
        for event_type in state.hidden.values():  # O(hidden)
            types[event_type] -= 1
        return {
            "events": len(state.seqs) - len(state.hidden),
            "eventTypes": {t: n for t, n in types.items() if n},
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
