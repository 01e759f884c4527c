"""Engage profiles: the stitched users the simulator computes on, and how messages join them.

A message carrying both a userId and an anonymousId links them, as the mock's identity graph
does, so events sent before a login count for the user. An anonymousId already linked to another
userId is not moved (a conflict): two users are never merged into one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .conditions import same_value

Value = bool | int | float  # what a definition computes: membership, a count or a sum


@dataclass(slots=True)
class StoredEvent:
    """A track event a definition reads, kept only as long as some window can count it."""

    at: int  # epoch milliseconds
    message_id: str | None
    properties: dict[str, Any]  # only the properties some definition reads


@dataclass(eq=False, slots=True)
class Profile:
    """A stitched user: at most one userId, its anonymousIds, the events the definitions need
    and the value last emitted per definition key (absent: nothing emitted, i.e. false / 0)."""

    first_seen: int
    user_id: str | None = None
    anonymous_ids: set[str] = field(default_factory=set)
    events: dict[str, list[StoredEvent]] = field(default_factory=dict)
    synced: dict[str, Value] = field(default_factory=dict)
    resend: set[str] = field(default_factory=set)  # keys to emit at the next sync anyway
    due: int = 0  # epoch ms from which its values may differ from the last computed ones

    @property
    def identity(self) -> tuple[str, str]:
        """("userId", id), or ("anonymousId", id) for a profile that never identified."""
        if self.user_id is not None:
            return "userId", self.user_id
        return "anonymousId", min(self.anonymous_ids)


class Profiles:
    """Every profile by identifier, and the active ones: those holding events or emitted
    values, the only ones a sync has to look at."""

    def __init__(self) -> None:
        self.by_node: dict[str, Profile] = {}  # node ("u:<id>" / "a:<id>") → profile
        self.active: dict[int, Profile] = {}  # id(profile) → profile with events or values
        self._arrivals = 0

    def find(self, user_id: str | None, anonymous_id: str | None) -> Profile | None:
        """The profile holding the userId (or, without one, the anonymousId), if seen."""
        node = f"u:{user_id}" if user_id is not None else f"a:{anonymous_id}"
        return self.by_node.get(node)

    def sorted_active(self) -> list[Profile]:
        return sorted(self.active.values(), key=lambda p: (p.identity, p.first_seen))

    def link(self, user_id: str | None, anonymous_id: str | None) -> tuple[Profile, bool]:
        """The profile a message belongs to, after linking its two identifiers if it has both;
        and whether the link was refused (the anonymousId belongs to another user)."""
        if user_id is None:
            return self._node_profile(f"a:{anonymous_id}"), False
        profile = self._node_profile(f"u:{user_id}")
        if anonymous_id is None:
            return profile, False
        other = self._node_profile(f"a:{anonymous_id}")
        if other is profile:
            return profile, False
        if other.user_id is not None:
            return profile, True  # the anonymousId stays with its user, as in the mock
        return self._merge(profile, other), False

    def _node_profile(self, node: str) -> Profile:
        profile = self.by_node.get(node)
        if profile is None:
            self._arrivals += 1
            profile = self.by_node[node] = Profile(self._arrivals)
            kind, value = node[0], node[2:]
            if kind == "u":
                profile.user_id = value
            else:
                profile.anonymous_ids.add(value)
        return profile

    def _merge(self, a: Profile, b: Profile) -> Profile:
        keep, gone = (a, b) if len(a.anonymous_ids) >= len(b.anonymous_ids) else (b, a)
        keep.user_id = keep.user_id or gone.user_id
        keep.first_seen = min(keep.first_seen, gone.first_seen)
        keep.anonymous_ids |= gone.anonymous_ids
        for name in gone.anonymous_ids:
            self.by_node[f"a:{name}"] = keep
        if gone.user_id is not None:
            self.by_node[f"u:{gone.user_id}"] = keep
        for name, events in gone.events.items():
            keep.events.setdefault(name, []).extend(events)
        for key in set(keep.synced) | set(gone.synced):
            mine, theirs = keep.synced.get(key), gone.synced.get(key)
            if theirs is None:
                continue
            if mine is None:
                keep.synced[key] = theirs
            elif not same_value(mine, theirs):
                keep.resend.add(key)  # the destination holds both; say which is right
        keep.resend |= gone.resend
        keep.due = 0
        self.active.pop(id(gone), None)
        if keep.events or keep.synced or keep.resend:
            self.active[id(keep)] = keep
        return keep
