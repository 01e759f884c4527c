"""Ordering keys that follow identity stitching, computed as messages stream by (pure).

The delivery client sends the events of one ordering key one at a time, in order. Keyed by a
single identifier, a visitor's anonymous events and the identify that names them would travel
on different keys and could reach Pointillist out of order. Here every identifier belongs to a
stitched component (union-find, as Pointillist links identifiers that arrive together); a
message is keyed by its component, and a message that joins components also waits for the
others (`after`) before the joined component carries on as one key.
"""

from __future__ import annotations

from collections.abc import Mapping


class StitchedOrdering:
    def __init__(self) -> None:
        self._parent: dict[str, str] = {}

    def _root(self, node: str) -> str:
        parent = self._parent
        root = node
        while parent[root] != root:
            root = parent[root]
        while parent[node] != root:  # path compression keeps later look-ups flat
            parent[node], node = root, parent[node]
        return root

    def keys(self, actors: Mapping[str, Mapping[str, str]]) -> tuple[str, tuple[str, ...]]:
        """Streaming: (ordering key, keys to wait for as well) of the next event, which it
        then links."""
        roots = self.link(actors)
        return roots[0], tuple(roots[1:])

    def key(self, actors: Mapping[str, Mapping[str, str]]) -> str:
        """With the whole input linked first: the one key of the event's stitched actor, so
        even events sent before the link (another device, say) keep their input order."""
        actor_type, identifiers = next(iter(actors.items()))
        name, value = next(iter(identifiers.items()))
        node = f"{actor_type}/{name}:{value}"
        self._parent.setdefault(node, node)
        return self._root(node)

    def link(self, actors: Mapping[str, Mapping[str, str]]) -> list[str]:
        """Join the event's identifiers; return the roots they had before."""
        roots: list[str] = []
        for actor_type, identifiers in actors.items():
            for name, value in identifiers.items():
                node = f"{actor_type}/{name}:{value}"
                self._parent.setdefault(node, node)
                root = self._root(node)
                if root not in roots:
                    roots.append(root)
        if not roots:
            raise ValueError("an event without identifiers has no actor to order by")
        for other in roots[1:]:
            self._parent[other] = roots[0]
        return roots
