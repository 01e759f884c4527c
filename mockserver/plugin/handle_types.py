"""The shapes of what the pytest handle (testing.MockHandle) returns and takes: the inspection
API's answers as typed dictionaries, and the handle's keyword filters."""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

Json = dict[str, Any]


class StoredEvent(TypedDict):
    """One stored event: `event` is the JSON exactly as the client sent it."""

    id: str
    receivedAt: str
    eventTime: str  # normalized to UTC, e.g. 2026-11-28T10:00:00.000Z
    event: Json


class Actor(TypedDict):
    """Everything known about one (possibly stitched) actor."""

    actorType: str
    userId: str | None
    identifiers: dict[str, list[str]]  # e.g. {"anonymousId": ["a_9"], "userId": ["u_1"]}
    identifierCounts: dict[str, int]  # `identifiers` lists at most 100 values per name
    labels: dict[str, str]  # latest values from identify events
    numbers: dict[str, int | float]
    eventCount: int  # every event of the actor; `events` is one page of them
    limit: int
    offset: int
    events: list[StoredEvent]
    linkCount: int
    links: list[Json]  # the first 100


class Stats(TypedDict):
    events: int
    eventTypes: dict[str, int]
    actors: int
    stitchedActors: int
    conflicts: int
    rejected: int
    idempotentReplays: int
    duplicateIdempotencyKeys: int  # keys whose events were stored twice: 0 unless the mock errs


class FaultRule(TypedDict):
    """A fault rule as the mock lists it: the fields it was given, its id and its counters."""

    id: str
    kind: str  # status | latency | reset | truncate | delayVisibility
    fired: int  # requests it fired on
    considered: int  # requests it was asked about while active
    active: bool  # false once its times are spent or its durationSeconds passed
    status: NotRequired[int]
    retryAfter: NotRequired[int]
    retryAfterFormat: NotRequired[str]
    ms: NotRequired[float]
    jitterMs: NotRequired[float]
    times: NotRequired[int]
    durationSeconds: NotRequired[float]
    probability: NotRequired[float]
    seed: NotRequired[int]


class Conflict(TypedDict):
    """An anonymousId seen with a second userId: recorded, never merged."""

    actorType: str
    identifier: dict[str, str]  # {"name": "anonymousId", "value": "a_9"}
    existingUserId: str
    attemptedUserId: str
    eventId: str


class Rejection(TypedDict):
    """A request the mock refused, with its reason."""

    at: str
    method: str
    path: str
    status: int
    code: str
    message: str
    violations: list[dict[str, str]]
    bodyExcerpt: str


class EventFilters(TypedDict, total=False):
    """Keyword filters of `events`, `wait_for` and `assert_received`, in Python's spelling or in
    the inspection API's (`user_id=` or `userId=`)."""

    event_type: str
    user_id: str  # any identifier of a stitched actor finds all of its events
    anonymous_id: str
    actor_type: str  # with user_id / anonymous_id; "Customer" by default
    since: str  # eventTime bounds, inclusive, e.g. "2026-11-28T00:00:00Z"
    until: str
    eventType: str
    userId: str
    anonymousId: str
    actorType: str
