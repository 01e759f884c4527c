"""What the inspection API shows of actors: the actor view (paged), a label's history, a line of
the actors list. Pure: reads a tenant's state, decodes only what it shows.

Every list that can grow without bound is paged or capped: the actor view's `events` take
limit/offset (DEFAULT_EVENTS by default) beside `eventCount`; its identifier values and links
show at most MAX_LISTED each, beside `identifierCounts` and `linkCount`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final

from mockserver.errors import ActorNotFound
from mockserver.state.documents import event_id, public
from mockserver.state.identity import Actor, Node, Summary

if TYPE_CHECKING:
    from mockserver.state.tenant import Doc, Tenant

IDENTIFY: Final = "identify"
DEFAULT_EVENTS: Final = 50
MAX_LISTED: Final = 100


def _found(state: Tenant, node: Node) -> Actor:
    actor = state.graph.actor_of(node)
    if actor is None:
        raise ActorNotFound(
            f"no actor of type {node[0]!r} has {node[1]} {node[2]!r}",
            {"actorType": node[0], node[1]: node[2]},
        )
    return actor


def _identifies(state: Tenant, actor: Actor) -> list[Doc]:
    """The actor's identify events, decoded, by eventTime, ties by arrival. O(e + i log i) for
    its e events of which i are identifies: only those are decoded."""
    typed = set(state.by_type.get(IDENTIFY, ()))
    docs = [state.doc(seq) for seq in visible(state, actor.seqs) if seq in typed]
    return sorted(docs, key=lambda d: (d["eventTime"], d["seq"]))


def visible(state: Tenant, seqs: Sequence[int]) -> Sequence[int]:
    """`seqs` less those stored but not shown yet (Tenant.hidden). O(1) when none is hidden,
    else O(len(seqs))."""
    hidden = state.hidden
    return [seq for seq in seqs if seq not in hidden] if hidden else seqs


def _identifiers(members: Iterable[Node]) -> tuple[dict[str, list[str]], dict[str, int]]:
    """Values by identifier name, at most MAX_LISTED each (sorted), and how many there are."""
    out: dict[str, list[str]] = {}
    for _, name, value in members:
        out.setdefault(name, []).append(value)
    return ({name: sorted(values)[:MAX_LISTED] for name, values in sorted(out.items())},
            {name: len(values) for name, values in sorted(out.items())})


def actor(state: Tenant, node: Node, limit: int, offset: int) -> dict[str, Any]:
    """The actor view: O(m log m + e log e) for m members and e events, decoding its identify
    events (the profile) and the page of `limit` events from `offset`, by id."""
    found = _found(state, node)
    labels, numbers = profile(_identifies(state, found))
    identifiers, counts = _identifiers(found.members)
    seqs = visible(state, found.seqs)
    links = found.links[:MAX_LISTED]
    return {
        "actorType": found.actor_type,
        "userId": found.user_id,
        "identifiers": identifiers,
        "identifierCounts": counts,
        "labels": labels,
        "numbers": numbers,
        "eventCount": len(seqs),
        "limit": limit,
        "offset": offset,
        "events": [public(state.doc(seq)) for seq in seqs[offset: offset + limit]],
        "linkCount": len(found.links),
        "links": [
            {"eventId": event_id(link.seq), "eventTime": state.event_time(link.seq),
             "identifiers": [{"name": n, "value": v} for _, n, v in link.nodes]}
            for link in links
        ],
    }


def label_history(state: Tenant, node: Node, label: str) -> list[dict[str, Any]]:
    """Every value an identify event of the actor set for `label` (a label or a number),
    by eventTime, ties by arrival: the timeline behind the profile's latest value."""
    history: list[dict[str, Any]] = []
    for doc in _identifies(state, _found(state, node)):
        if label in doc["numbers"]:  # as in profile(): numbers are applied after labels
            history.append({"eventTime": doc["eventTime"], "value": doc["numbers"][label]})
        elif label in (labels := doc["event"].get("labels", {})):
            history.append({"eventTime": doc["eventTime"], "value": labels[label]})
    return history


def summary(found: Summary) -> dict[str, Any]:
    """A line of GET /_mock/actors. O(m log m) for its m members."""
    identifiers, counts = _identifiers(found.members)
    line: dict[str, Any] = {"actorType": found.actor_type, "userId": found.user_id,
                            "identifiers": identifiers, "eventCount": found.event_count}
    if any(count > MAX_LISTED for count in counts.values()):
        line["identifierCounts"] = counts
    return line


def profile(identifies: Iterable[Doc]) -> tuple[dict[str, Any], dict[str, int | float]]:
    """Latest label and number values from identify events given by eventTime, ties by
    arrival."""
    labels: dict[str, Any] = {}
    numbers: dict[str, int | float] = {}
    for doc in identifies:
        for key, value in doc["event"].get("labels", {}).items():
            numbers.pop(key, None)
            labels[key] = value
        for key, number in doc["numbers"].items():
            labels.pop(key, None)
            numbers[key] = number
    return dict(sorted(labels.items())), dict(sorted(numbers.items()))
