"""Identity stitching, as Pointillist does it: pure, no I/O.

Each identifier (actor type, identifier name, value) is a node. An event that carries several
identifiers of one actor type links them, so events sent earlier under an anonymousId join the
user once an identify carries both. An actor is a connected set holding at most one userId:
a link that would join two different userIds is recorded as a conflict and not made.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

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
    links: list[Link] = field(default_factory=list)


class IdentityGraph:
    def __init__(self) -> None:
        self._parent: dict[Node, Node] = {}
        self._components: dict[Node, _Component] = {}
        # Event ids as machine integers: arrays hold no objects for the garbage collector to
        # walk, so a full collection costs the same with 10 thousand or 1 million events.
        self._events: dict[Node, array[int]] = {}

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
            self._components[node] = _Component([node], user)
            self._events[node] = array("q")
        return self._root(node)

    def observe(self, seq: int, actors: Mapping[str, Mapping[str, str]]) -> list[Conflict]:
        """Record event `seq` carrying `actors`; return the conflicts it raised."""
        conflicts: list[Conflict] = []
        for actor_type, identifiers in actors.items():
            nodes = [(actor_type, name, value) for name, value in identifiers.items()]
            conflicts.extend(self._observe_type(seq, actor_type, nodes))
        return conflicts

    def _observe_type(self, seq: int, actor_type: str, nodes: list[Node]) -> list[Conflict]:
        roots: list[Node] = []
        for node in nodes:
            root = self._add(node)
            if root not in roots:
                roots.append(root)
        if len(roots) == 1:
            # Already one actor (the usual case): nothing to link and, as an actor holds at most
            # one userId, nothing to conflict; the general path below would do just this.
            for node in nodes:
                self._events[node].append(seq)
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
        root = self._merge(joined, seq)
        for node in nodes:
            if self._root(node) == root:
                self._events[node].append(seq)
        return conflicts

    def _merge(self, roots: list[Node], seq: int) -> Node:
        components = self._components
        # The largest component absorbs the others, so each node moves O(log n) times.
        roots = sorted(roots, key=lambda r: len(components[r].members), reverse=True)
        keep = roots[0]
        target = components[keep]
        if len(roots) > 1:
            target.links.append(Link(seq, tuple(n for r in roots for n in components[r].members)))
        for other in roots[1:]:
            source = components.pop(other)
            self._parent[other] = keep
            target.members.extend(source.members)
            target.links.extend(source.links)
            target.user_id = target.user_id or source.user_id
        return keep

    def actor_of(self, node: Node) -> Actor | None:
        if node not in self._parent:
            return None
        component = self._components[self._root(node)]
        seqs = sorted({s for member in component.members for s in self._events[member]})
        links = sorted(component.links, key=lambda link: link.seq)
        return Actor(node[0], sorted(component.members), seqs, component.user_id, links)

    def actors(self) -> Iterable[Actor]:
        for root in list(self._components):
            actor = self.actor_of(root)
            if actor is not None:
                yield actor

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
