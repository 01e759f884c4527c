"""Server-side waits (GET /_mock/events?min_count=N): each waiter's count kept as events arrive.

Pure: no I/O and no event loop. A waiter is counted once when it starts (one read of the store);
after that each applied event is matched against that tenant's waiters only, the event in hand,
nothing decoded: a write costs O(waiters of its tenant), other tenants' waiters cost it nothing.
One exception keeps counts exact: an event that links identifiers (an identify) can bring an
actor's earlier events under a userId/anonymousId filter, so a write that made a link recounts
that tenant's actor-filtered waiters (O(events of the actor) each).
`matched` counts the (waiter, event) checks made, for tests that assert the work per write.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mockserver.state.identity import IdentityGraph, Node
from mockserver.state.store import EventQuery


@dataclass(eq=False)
class Waiter:
    query: EventQuery
    wanted: int
    count: int
    on_reached: Callable[[], None]
    nodes: tuple[Node, ...] = field(default=())  # the actor filters, as identity nodes

    @property
    def reached(self) -> bool:
        return self.count >= self.wanted


def actor_nodes(query: EventQuery) -> tuple[Node, ...]:
    return tuple((query.actor_type, name, value) for name, value in
                 (("userId", query.user_id), ("anonymousId", query.anonymous_id))
                 if value is not None)


def matches(query: EventQuery, nodes: tuple[Node, ...], doc: Mapping[str, Any],
            graph: IdentityGraph) -> bool:
    """Whether the stored document `doc` (already applied) matches `query`. O(identifiers)."""
    event = doc["event"]
    if query.event_type is not None and event["eventType"] != query.event_type:
        return False
    if query.since is not None and doc["eventTime"] < query.since:
        return False
    if query.until is not None and doc["eventTime"] > query.until:
        return False
    carried = [(query.actor_type, name, value) for name, value in
               event["actors"].get(query.actor_type, {}).items()]
    return all(any(graph.same_actor(node, other) for other in carried) for node in nodes)


class WaitBook:
    def __init__(self) -> None:
        self._waiters: dict[str, set[Waiter]] = {}
        self.matched = 0

    def any_for(self, tenant: str) -> bool:
        """Whether the tenant has waiters: a write to one without costs nothing more. O(1)."""
        return tenant in self._waiters

    def add(self, tenant: str, waiter: Waiter) -> None:
        waiter.nodes = actor_nodes(waiter.query)
        self._waiters.setdefault(tenant, set()).add(waiter)

    def remove(self, tenant: str, waiter: Waiter) -> None:
        waiters = self._waiters.get(tenant)
        if waiters is not None:
            waiters.discard(waiter)
            if not waiters:
                del self._waiters[tenant]

    def applied(self, tenant: str, docs: Sequence[Mapping[str, Any]], graph: IdentityGraph,
                linked: bool, recount: Callable[[EventQuery], int]) -> None:
        """`docs` became visible; `linked`: they made a link. O(waiters * docs)."""
        for waiter in list(self._waiters.get(tenant, ())):
            if waiter.nodes and linked:
                waiter.count = recount(waiter.query)
            else:
                for doc in docs:
                    self.matched += 1
                    if matches(waiter.query, waiter.nodes, doc, graph):
                        waiter.count += 1
            if waiter.reached:
                waiter.on_reached()

    def reset(self, tenant: str) -> None:
        """The tenant's events are gone: every count starts again from 0. O(waiters)."""
        for waiter in self._waiters.get(tenant, ()):
            waiter.count = 0
