"""fixtures/medium.jsonl through the connector pipeline into a live mock, checked per user.

What each user's actor must hold is worked out here from the fixture file alone: the identities
the file links (an anonymousId used in an identify with a userId belongs to that user, and so do
all of that anonymousId's events, including those before the identify), the message types the
destination takes (identify and track; page, screen, group and alias are skipped), and
`map_message` only for the exact shape of each event (eventTime, labels, numbers). The actor's
events must be exactly that list, in file order (arrival order in the mock), which holds only if
the pipeline keeps each stitched actor's events in order while delivering concurrently.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession

from connector import Mapped, map_message
from connector.config import DeliveryConfig
from connector.pipeline import send

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "medium.jsonl"
MAPPED_TYPES = {"identify", "track"}
SKIPPED_TYPES = {"page", "screen", "group", "alias"}


@dataclass(frozen=True)
class Expected:
    messages: list[dict[str, Any]]
    owner: dict[str, str]  # anonymousId → the userId an identify linked it to
    users: list[str]  # every userId in the file
    events: dict[str, list[dict[str, Any]]]  # userId or "anonymousId:<id>" → events in order
    identifiers: dict[str, dict[str, list[str]]]


def _expected() -> Expected:
    messages = [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines()]
    assert {m["type"] for m in messages} == MAPPED_TYPES | SKIPPED_TYPES
    assert all(m["integrations"] == {} for m in messages)  # nothing disabled per message

    owner: dict[str, str] = {}
    for m in messages:
        if m["type"] == "identify" and m.get("userId") and m.get("anonymousId"):
            # this file never links one anonymousId to two users (no stitch conflicts)
            assert owner.setdefault(m["anonymousId"], m["userId"]) == m["userId"]
    users = sorted({m["userId"] for m in messages if m.get("userId")})

    events: dict[str, list[dict[str, Any]]] = {user: [] for user in users}
    identifiers: dict[str, dict[str, set[str]]] = {}
    for m in messages:
        if m["type"] not in MAPPED_TYPES:
            continue
        user_id, anonymous_id = m.get("userId"), m.get("anonymousId")
        if user_id and anonymous_id:  # every such message is one that an identify explains
            assert owner[anonymous_id] == user_id
        actor = user_id or owner.get(anonymous_id) or f"anonymousId:{anonymous_id}"
        mapped = map_message(m)
        assert isinstance(mapped, Mapped)
        events.setdefault(actor, []).append(mapped.event)
        ids = identifiers.setdefault(actor, {})
        for name, value in (("userId", user_id), ("anonymousId", anonymous_id)):
            if value:
                ids.setdefault(name, set()).add(value)
    return Expected(
        messages, owner, users, events,
        {actor: {name: sorted(values) for name, values in sorted(ids.items())}
         for actor, ids in identifiers.items()},
    )


EXPECTED = _expected()


async def _get(http: ClientSession, url: str, **params: str) -> Any:
    async with http.get(url, params=params) as response:
        assert response.status == 200, await response.text()
        return await response.json()


@pytest.mark.parametrize("batch", [False, True], ids=["event", "batch"])
async def test_medium_scenario_lands_user_by_user(
    batch: bool, mock_url: str, token: str, http: ClientSession
) -> None:
    types = Counter(m["type"] for m in EXPECTED.messages)
    config = DeliveryConfig(url=mock_url, token=token, concurrency=8, batch=batch,
                            max_retries=0)

    summary = await send(FIXTURE, config)

    sent = sum(types[t] for t in MAPPED_TYPES)
    assert summary.read == len(EXPECTED.messages) == 2184
    assert summary.sent == sent
    assert summary.skipped == {"unsupported_message_type": sum(types[t] for t in SKIPPED_TYPES)}
    assert summary.failed == {}
    assert summary.failures == []
    assert (summary.result.retries, summary.result.duplicates) == (0, 0)

    anonymous_actors = [a for a in EXPECTED.events if a.startswith("anonymousId:")]
    stats = await _get(http, f"{mock_url}/_mock/stats")
    assert stats["events"] == sent
    assert stats["actors"] == len(EXPECTED.users) + len(anonymous_actors)
    assert stats["stitchedActors"] == len({user for user in EXPECTED.owner.values()})
    assert (stats["conflicts"], stats["rejected"]) == (0, 0)

    for user in EXPECTED.users:
        actor = await _get(http, f"{mock_url}/_mock/actor", userId=user)
        assert actor["userId"] == user
        assert actor["identifiers"] == EXPECTED.identifiers[user]
        assert [record["event"] for record in actor["events"]] == EXPECTED.events[user], user
        assert actor["eventCount"] == len(EXPECTED.events[user])
    for key in anonymous_actors:
        anonymous_id = key.removeprefix("anonymousId:")
        actor = await _get(http, f"{mock_url}/_mock/actor", anonymousId=anonymous_id)
        assert actor["userId"] is None
        assert actor["identifiers"] == {"anonymousId": [anonymous_id]}
        assert [record["event"] for record in actor["events"]] == EXPECTED.events[key], key


def test_the_scenario_stitches_what_it_promises() -> None:
    """The fixture holds what the test above is about: users seen anonymously first, users
    with several devices, and visitors who never identify."""
    devices = Counter(EXPECTED.owner.values())
    assert len(EXPECTED.users) == 39
    assert sorted(Counter(devices.values()).items()) == [(1, 26), (2, 10), (3, 2), (4, 1)]
    before_identify = {
        user for user, events in EXPECTED.events.items()
        if not user.startswith("anonymousId:") and "userId" not in events[0]["actors"]["Customer"]
    }
    assert len(before_identify) == 39
    assert len([a for a in EXPECTED.events if a.startswith("anonymousId:")]) == 23
