"""Identity stitching, as Pointillist does it: pure, no I/O.

Each identifier (actor type, identifier name, value) is a node. An event that carries several
identifiers of one actor type links them, so events sent earlier under an anonymousId join the
user once an identify carries both. An actor is a connected set holding at most one userId:
a link that would join two different userIds is recorded as a conflict and not made.

Costs stay linear in the work: merging is union-find with the smaller side moved (each node
moves O(log n) times), a link records only the identifiers of the event that made it (not the
members of the actors it joined), and the actors are kept in first-seen order as they change, so
a page of them costs O(offset + limit) (the offset is skipped in C).
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import islice

USER_ID = "userId"

Node = tuple[str, str, str]  # (actor type, identifier name, value)


@dataclass(frozen=True)
class Conflict:
    actor_type: str
    identifier: tuple[str, str]
    existing_user_id: str
    attempted_user_id: str
    seq: int


@dataclass(frozen=True)
class Link:
    """The moment (an event) at which identifiers were joined into one actor."""

    seq: int
    nodes: tuple[Node, ...]


@dataclass
class _Component:
    members: list[Node]
    user_id: str | None
    slot: int  # first-seen order: the smallest slot of the components it joined
    links: list[Link] = field(default_factory=list)
    event_count: int = 0  # events of its members, an event counted once per actor type


class IdentityGraph:
    def __init__(self) -> None:
        self._parent: dict[Node, Node] = {}
        self._components: dict[Node, _Component] = {}
        # Event ids as machine integers: arrays hold no objects for the garbage collector to
        # walk, so a full collection costs the same with 10 thousand or 1 million events.
        self._events: dict[Node, array[int]] = {}
        # slot → root of every actor, in slot (first-seen) order: a dict keeps insertion order,
        # a slot is never reused, and a merge deletes the absorbed slots in O(1) each.
        self._order: dict[int, Node] = {}
        self._next_slot = 0
        self.merges = 0  # links made so far: a waiter on an actor recounts when this moves

    def __contains__(self, node: Node) -> bool:
        return node in self._parent

    def _root(self, node: Node) -> Node:
        parent = self._parent
        root = node
        while parent[root] != root:
            root = parent[root]
        while parent[node] != root:  # path compression keeps later look-ups flat
            parent[node], node = root, parent[node]
        return root

    def _add(self, node: Node) -> Node:
        if node not in self._parent:
            self._parent[node] = node
            user = node[2] if node[1] == USER_ID else None
            self._components[node] = _Component([node], user, self._next_slot)
            self._order[self._next_slot] = node
            self._next_slot += 1
            self._events[node] = array("q")
        return self._root(node)

    def observe(self, seq: int, actors: Mapping[str, Mapping[str, str]]) -> list[Conflict]:
        """Record event `seq` carrying `actors`; return the conflicts it raised."""
        return self.observe_groups(seq, [
            [(actor_type, name, value) for name, value in identifiers.items()]
            for actor_type, identifiers in actors.items()])

    def observe_groups(self, seq: int, actors: list[list[Node]]) -> list[Conflict]:
        """`observe`, of the identifiers grouped by actor type in the event's order (as
        doc_index.Columns holds them). O(identifiers)."""
        conflicts: list[Conflict] = []
        parent, events = self._parent, self._events
        for nodes in actors:
            actor_type = nodes[0][0]
            # The usual case, inline (a restart does this once per stored event): every
            # identifier known and a direct child of one root. O(len(nodes)), and the state
            # left is exactly what _observe_type leaves (no path to compress, nothing to link).
            root = None
            for node in nodes:
                found = parent.get(node)
                if found is None or parent[found] is not found or (
                        root is not None and found is not root):
                    root = None
                    break
                root = found
            if root is None:
                conflicts.extend(self._observe_type(seq, actor_type, nodes))
                continue
            for node in nodes:
                events[node].append(seq)
            self._components[root].event_count += 1
        return conflicts

    def _observe_type(self, seq: int, actor_type: str, nodes: list[Node]) -> list[Conflict]:
        # The actors the identifiers belong to, once each, in the event's order: a dict as an
        # ordered set, so an event naming many identifiers costs O(identifiers), not their square.
        found: dict[Node, None] = {}
        for node in nodes:
            found[self._add(node)] = None
        roots = list(found)
        if len(roots) == 1:
            # Already one actor (the usual case): nothing to link and, as an actor holds at most
            # one userId, nothing to conflict; the general path below would do just this.
            for node in nodes:
                self._events[node].append(seq)
            self._components[roots[0]].event_count += 1
            return []
        event_user = next((n[2] for n in nodes if n[1] == USER_ID), None)
        primary = event_user
        if primary is None:
            primary = next((self._components[r].user_id for r in roots
                            if self._components[r].user_id is not None), None)
        joined = [r for r in roots if self._components[r].user_id in (None, primary)]
        conflicts = [
            Conflict(actor_type, (n[1], n[2]), existing, primary or "", seq)
            for n in nodes
            if (existing := self._components[self._root(n)].user_id) not in (None, primary)
        ]
        joining = set(joined)  # O(1) membership for each of the event's identifiers
        root = self._merge(joined, seq, tuple(n for n in nodes if self._root(n) in joining))
        for node in nodes:
            if self._root(node) == root:
                self._events[node].append(seq)
        self._components[root].event_count += 1
        return conflicts

    def _merge(self, roots: list[Node], seq: int, joined: tuple[Node, ...]) -> Node:
        """Join `roots` at event `seq`, whose identifiers `joined` made the link. O(size of the
        smaller sides): the largest component absorbs the others, so a node moves O(log n)
        times in all, and its links (fewer than its members) move with it."""
        components = self._components
        roots = sorted(roots, key=lambda r: len(components[r].members), reverse=True)
        keep = roots[0]
        target = components[keep]
        if len(roots) > 1:
            target.links.append(Link(seq, joined))
            self.merges += 1
        for other in roots[1:]:
            source = components.pop(other)
            self._parent[other] = keep
            target.members.extend(source.members)
            target.links.extend(source.links)
            target.user_id = target.user_id or source.user_id
            target.event_count += source.event_count
            if source.slot < target.slot:  # the actor keeps the earliest place in the order
                del self._order[target.slot]
                target.slot = source.slot
                self._order[target.slot] = keep  # an existing key: it keeps its place
            else:
                del self._order[source.slot]
        return keep

    def actor_of(self, node: Node) -> Actor | None:
        """The whole actor of `node`: O(m log m + e log e) for its m members and e events."""
        if node not in self._parent:
            return None
        component = self._components[self._root(node)]
        seqs = sorted({s for member in component.members for s in self._events[member]})
        links = sorted(component.links, key=lambda link: link.seq)
        return Actor(node[0], sorted(component.members), seqs, component.user_id, links)

    def same_actor(self, node: Node, other: Node) -> bool:
        """Whether both identifiers belong to one actor. O(log n) at worst."""
        return node in self._parent and other in self._parent and \
            self._root(node) == self._root(other)

    def page(self, offset: int, limit: int) -> list[Summary]:
        """Actors in first-seen order: O(offset + limit * members shown) (islice skips the
        offset in C)."""
        return [self._summary(root) for root in islice(self._order.values(), offset,
                                                        offset + limit)]

    def _summary(self, root: Node) -> Summary:
        component = self._components[root]
        return Summary(root[0], component.user_id, component.members, component.event_count)

    def stitched_count(self) -> int:
        """Actors that joined more than one identifier."""
        return sum(1 for c in self._components.values() if len(c.members) > 1)

    def actor_count(self) -> int:
        return len(self._components)


@dataclass(frozen=True)
class Actor:
    actor_type: str
    members: list[Node]
    seqs: list[int]
    user_id: str | None
    links: list[Link]

    def identifiers(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for _, name, value in self.members:
            out.setdefault(name, []).append(value)
        return {name: sorted(values) for name, values in sorted(out.items())}


@dataclass(frozen=True)
class Summary:
    """An actor as a list shows it: its members are the graph's own list (do not change it)."""

    actor_type: str
    user_id: str | None
    members: list[Node]
    event_count: int
