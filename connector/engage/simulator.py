"""Engage (Personas) simulator: audiences and computed traits over observed Segment traffic.

Pure: definitions and messages in, Segment messages out. No I/O beyond `load_definitions`
reading its one file, no wall clock (every sync gets its `now`), no randomness (ids are digests).

Definitions (YAML, or the same structure as JSON):

    space_id: spa_demo              # optional; context.personas.space_id and namespace
    emit: identify                  # optional; or track (Audience Entered/Exited, Trait Computed)
    audiences:
      - name: Order Completed Last 30days     # key: order_completed_last_30days
        event: Order Completed
        within_days: 30
        min_count: 1                          # optional, default 1
        where: {currency: EUR}                # optional property filter (see Condition)
      - name: Recent or big
        union: [Order Completed Last 30days, Big Spenders]   # or intersection: [...]
    computed_traits:
      - name: orders_last_90_days
        event: Order Completed
        within_days: 90
        aggregate: count                      # or sum, with property: revenue

Each definition may also give `key` (already snake_cased), `id` (computation_id) and `emit`.

Semantics (Engage documents the keys and the first-sync / later-sync rules; the rest is this
simulator's choice, written down here):

- Keys are `snake_case(name)` unless given; two definitions with one key are a load error.
- Events are track messages named `event` (timestamp: the first of timestamp,
  originalTimestamp, receivedAt, as for eventTime). A messageId seen before counts once (a
  retry). Messages with `context.personas` (Engage output, this simulator's own) are no traffic.
- "Within the last D days" at sync time `now` is `now - D days < event timestamp <= now`:
  an event exactly D days old is out, an event later than `now` is not counted yet.
- Membership and values are computed on the stitched user: a message carrying a userId and an
  anonymousId links them (like an identify, and like the mock's stitching), so events sent
  anonymously count for the user. An anonymousId already linked to another userId is not moved
  (a conflict, counted in `stats`), as in the mock.
- `sync(now)` emits, per definition and per profile whose value changed since the value last
  emitted for it: an audience emits `true` on entering and `false` on leaving, a computed trait
  its new value. Nothing emitted yet counts as `false` / `0`, so the first sync of a definition
  emits `true` for every member and nothing for anyone else, and a computed trait is first
  emitted when it leaves 0. When two profiles that were both emitted with different values are
  stitched, the merged profile's value is emitted again at the next sync.
- An emitted message is a Segment identify `{traits: {key: value}}` (or the track form), with
  `context.personas`, `integrations {"All": false, "Pointillist": true}`, `sentAt: null`, the
  sync time (nanosecond digits, like Engage) as `timestamp`/`originalTimestamp`, a `personas_`
  messageId derived from what it says (the same run gives the same ids), and `userId`; the
  `anonymousId` only for a profile that never identified.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, cast

from ..errors import DefinitionError, MappingError, SyncOrderError
from ..messages import TRACK, identifier, is_object, message_id
from ..times import format_nanos, message_time
from .conditions import Condition, is_number, same_value
from .definitions import (
    Audience,
    ComputedTrait,
    Definition,
    Definitions,
    EventRule,
    load_definitions,
    parse_definitions,
)
from .keys import snake_case
from .profiles import Profile, Profiles, StoredEvent, Value
from .sync_messages import Change, Message, sync_message

__all__ = [
    "Audience", "Change", "ComputedTrait", "Condition", "Definition", "DefinitionError",
    "Definitions", "EngageSimulator", "EngageStats", "EventRule", "SyncOrderError",
    "load_definitions", "parse_definitions", "snake_case",
]

_NEVER: Final = 2**62


# -- the simulator -------------------------------------------------------------------------------


@dataclass
class EngageStats:
    observed: int = 0  # messages given to observe
    events: int = 0  # track events stored because a definition reads them
    duplicates: int = 0  # events whose messageId was already stored
    unusable: int = 0  # not an object, no identifier, or no readable timestamp
    conflicts: int = 0  # an anonymousId of one user seen with another userId (not moved)
    syncs: int = 0
    emitted: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"observed": self.observed, "events": self.events,
                "duplicates": self.duplicates, "unusable": self.unusable,
                "conflicts": self.conflicts, "syncs": self.syncs, "emitted": self.emitted}


class EngageSimulator:
    """Observes Segment messages, and at each `sync(now)` emits the audience and computed
    trait changes as Segment messages (see the module docstring)."""

    def __init__(self, definitions: Definitions) -> None:
        self.definitions = definitions
        self.stats = EngageStats()
        self.last_sync: datetime | None = None
        self._last_sync_ms: int | None = None
        self._profiles = Profiles()
        self._active = self._profiles.active  # the profiles a sync has to look at
        self._seen_ids: set[str] = set()  # messageIds of the stored events
        self._by_key = {definition.key: definition for definition in definitions.all}
        rules = definitions.rules
        self._windows: dict[str, int] = {}  # event name → the longest window reading it
        self._all_windows: dict[str, set[int]] = {}  # event name → every window reading it
        self._props: dict[str, set[str]] = {}
        for rule in rules:
            self._windows[rule.event] = max(self._windows.get(rule.event, 0), rule.window_ms)
            self._all_windows.setdefault(rule.event, set()).add(rule.window_ms)
            props = self._props.setdefault(rule.event, set())
            props.update(condition.prop for condition in rule.where)
        for trait in definitions.traits:
            if trait.property is not None:
                self._props[trait.rule.event].add(trait.property)

    # -- observing -------------------------------------------------------------------------

    def observe(self, message: Any) -> None:
        """Take one Segment message into account (any type; only what definitions need is
        kept): a userId + anonymousId link, and a track event a definition reads."""
        self.stats.observed += 1
        if not is_object(message):
            self.stats.unusable += 1
            return
        try:
            user_id = identifier(message, "userId")
            anonymous_id = identifier(message, "anonymousId")
        except MappingError:
            user_id = anonymous_id = None
        if user_id is None and anonymous_id is None:
            self.stats.unusable += 1
            return
        if _is_engage_output(message):
            return  # the simulator's own messages (or another Engage's) are no traffic
        event = message.get("event")
        wanted = message.get("type") == TRACK and isinstance(event, str) \
            and event in self._windows
        if not wanted and (user_id is None or anonymous_id is None):
            return  # nothing to link, nothing to count
        profile, refused = self._profiles.link(user_id, anonymous_id)
        if refused:
            self.stats.conflicts += 1
        if not wanted:
            return
        at = _timestamp_ms(message)
        if at is None:
            self.stats.unusable += 1
            return
        event_name = cast(str, event)
        if self._last_sync_ms is not None and at <= self._last_sync_ms - self._windows[
                event_name]:
            return  # older than every window of every sync to come
        mid = message_id(message)
        if mid is not None:
            if mid in self._seen_ids:
                self.stats.duplicates += 1
                return
            self._seen_ids.add(mid)
        properties = message.get("properties")
        kept = {}
        if is_object(properties):
            kept = {p: properties[p] for p in self._props[event_name] if p in properties}
        profile.events.setdefault(event_name, []).append(StoredEvent(at, mid, kept))
        profile.due = min(profile.due, at)
        self._active[id(profile)] = profile
        self.stats.events += 1

    def observe_all(self, messages: Iterable[Any]) -> None:
        for message in messages:
            self.observe(message)

    # -- computing -------------------------------------------------------------------------

    def _values(self, profile: Profile, now_ms: int) -> dict[str, Value]:
        """Every definition's value for the profile at `now_ms`."""
        values: dict[str, Value] = {}
        for audience in self.definitions.audiences:
            if audience.rule is not None:
                count = sum(1 for _ in _in_window(profile, audience.rule, now_ms))
                values[audience.key] = count >= audience.min_count
            elif audience.combine == "union":
                values[audience.key] = any(values[key] for key in audience.of)
            else:
                values[audience.key] = all(values[key] for key in audience.of)
        for trait in self.definitions.traits:
            events = _in_window(profile, trait.rule, now_ms)
            if trait.aggregate == "count":
                values[trait.key] = sum(1 for _ in events)
            else:
                values[trait.key] = _sum(e.properties.get(cast(str, trait.property))
                                         for e in events)
        return values

    def evaluate(self, now: datetime) -> dict[str, dict[tuple[str, str], Value]]:
        """Every definition's value at `now` for every profile holding events or emitted
        values (a pure read: nothing is emitted or remembered)."""
        now_ms = _to_ms(now)
        out: dict[str, dict[tuple[str, str], Value]] = {d.key: {} for d in self.definitions.all}
        for profile in self._profiles.sorted_active():
            for key, value in self._values(profile, now_ms).items():
                out[key][profile.identity] = value
        return out

    def synced(self, key: str) -> dict[tuple[str, str], Value]:
        """The value last emitted for `key`, per profile identity (absent: never emitted)."""
        return {p.identity: p.synced[key] for p in self._profiles.sorted_active()
                if key in p.synced}

    def profile_of(self, user_id: str | None = None,
                   anonymous_id: str | None = None) -> tuple[str, str] | None:
        """The identity emitted messages use for the profile holding this identifier."""
        profile = self._profiles.find(user_id, anonymous_id)
        return None if profile is None else profile.identity

    def value(self, key: str, now: datetime, user_id: str | None = None,
              anonymous_id: str | None = None) -> Value:
        """One definition's value at `now` for the profile holding this identifier (false or 0
        for an identifier never seen)."""
        profile = self._profiles.find(user_id, anonymous_id)
        if profile is None:
            return 0 if isinstance(self._by_key[key], ComputedTrait) else False
        return self._values(profile, _to_ms(now))[key]

    # -- syncing ---------------------------------------------------------------------------

    def sync(self, now: datetime) -> list[Message]:
        """Compute every definition at `now` and return the messages for what changed since the
        last emitted value (per definition in file order, then per profile by identity)."""
        return [self.message(change, now) for change in self.sync_changes(now)]

    def sync_changes(self, now: datetime) -> list[Change]:
        """`sync` as values: what changed, for whom, from what."""
        now_ms = _to_ms(now)
        if self._last_sync_ms is not None and now_ms < self._last_sync_ms:
            raise SyncOrderError(f"sync at {format_nanos(now)} is before the last sync at "
                                 f"{format_nanos(cast(datetime, self.last_sync))}")
        per_key: dict[str, list[Change]] = {d.key: [] for d in self.definitions.all}
        due = [p for p in self._active.values() if p.due <= now_ms or p.resend]
        due.sort(key=lambda p: (p.identity, p.first_seen))
        for profile in due:
            values = self._values(profile, now_ms)
            for key, value in values.items():
                previous = profile.synced.get(key)
                unchanged = same_value(value, previous if previous is not None else _zero(value))
                if unchanged and key not in profile.resend:
                    continue
                per_key[key].append(Change(key, profile.identity, previous, value))
                profile.synced[key] = value
            profile.resend.clear()
            self._prune(profile, now_ms)
        self.last_sync, self._last_sync_ms = now, now_ms
        changes = [change for key in per_key for change in per_key[key]]
        self.stats.syncs += 1
        self.stats.emitted += len(changes)
        return changes

    def _prune(self, profile: Profile, now_ms: int) -> None:
        """Forget the profile's events no later sync can count, take it off the per-sync list
        when it has nothing left to change, and note when its values can next change: when an
        event enters a window (its time) or leaves one (its time + the window)."""
        due = _NEVER
        for name, events in list(profile.events.items()):
            cutoff = now_ms - self._windows[name]
            kept = []
            for event in events:
                if event.at > cutoff:
                    kept.append(event)
                elif event.message_id is not None:
                    self._seen_ids.discard(event.message_id)
            if kept:
                profile.events[name] = kept
            else:
                del profile.events[name]
            for window in self._all_windows[name]:
                for event in kept:
                    moment = event.at if event.at > now_ms else event.at + window
                    if now_ms < moment < due:
                        due = moment
        profile.due = due
        settled = all(same_value(v, _zero(v)) for v in profile.synced.values())
        if not profile.events and settled and not profile.resend:
            # Nothing left to change until new events: off the per-sync list. Its synced
            # values stay, as a stitch with another profile must compare with them.
            del self._active[id(profile)]

    def message(self, change: Change, now: datetime) -> Message:
        """The Segment message Engage sends for one change (see sync_messages.py)."""
        return sync_message(self._by_key[change.key], change, now, self.definitions.space_id)


def _in_window(profile: Profile, rule: EventRule, now_ms: int) -> Iterable[StoredEvent]:
    cutoff = now_ms - rule.window_ms
    for event in profile.events.get(rule.event, ()):
        if cutoff < event.at <= now_ms and rule.matches(event.properties):
            yield event


def _sum(values: Iterable[Any]) -> int | float:
    """The finite numbers among `values` (bools and the rest ignored): an int when they all
    are, else the correctly rounded float sum (math.fsum), so the order never matters."""
    numbers = [v for v in values if is_number(v)]
    if all(type(v) is int for v in numbers):
        return sum(numbers)
    return math.fsum(numbers)


def _zero(value: Value) -> Value:
    return False if isinstance(value, bool) else 0


def _is_engage_output(message: Mapping[str, Any]) -> bool:
    context = message.get("context")
    return isinstance(context, Mapping) and is_object(context.get("personas"))


def _timestamp_ms(message: Mapping[str, Any]) -> int | None:
    """The message's time (the field Pointillist's eventTime comes from), in epoch ms."""
    moment = message_time(message)
    return None if moment is None else _to_ms(moment)


def _to_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("sync times must be timezone-aware datetimes")
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000

