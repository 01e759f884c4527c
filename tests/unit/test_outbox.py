"""connector.gateway.outbox: the durable sqlite outbox, on real files in tmp_path."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connector.gateway.outbox import (
    AcceptResult,
    Outbox,
    OutboxError,
    Outcome,
    PendingMessage,
)
from connector.gateway.outbox_sql import HOT_STATEMENTS, SCHEMA
from connector.gateway.outbox_violations import VIOLATION_FILTERS, VIOLATIONS_SCHEMA
from connector.gateway.tracking import Accepted, Dropped, Entry

T0 = datetime(2026, 11, 28, 10, 0, 0, tzinfo=UTC)
DAY = 86_400.0
ZERO = {"received": 0, "deduplicated": 0, "dropped": 0, "skipped": 0, "delivered": 0,
        "pending": 0, "deadLettered": 0, "labelsLeftOut": 0,
        "loneSurrogatesRefused": 0}


def msg(message_id: str, user: str = "u_1", **extra: Any) -> Accepted:
    return Accepted(message_id, {"type": "track", "event": "E", "userId": user,
                                 "messageId": message_id, "receivedAt": "2026-11-28T10:00:00.000Z",
                                 **extra})


def drop(message_id: str | None, reason: Any = "no_user_anon_id") -> Dropped:
    message = {"type": "track", "event": "E", "messageId": message_id,
               "receivedAt": "2026-11-28T10:00:00.000Z"}
    return Dropped(reason, message_id, message, "a message needs a userId or an anonymousId")


def stats(**counts: int) -> dict[str, int]:
    return {**ZERO, **counts}


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "outbox.sqlite3")


@pytest.fixture
async def outbox(path: str) -> AsyncIterator[Outbox]:
    box = await Outbox.open(path, DAY, dropped_kept=3)
    try:
        yield box
    finally:
        await box.close()


async def test_accepted_messages_are_pending_in_arrival_order(outbox: Outbox) -> None:
    first: list[Entry] = [msg("m-1"), msg("m-2", "u_2")]
    assert await outbox.accept(first, T0) == AcceptResult(stored=2, duplicates=0, dropped=0)
    assert await outbox.accept([msg("m-3")], T0) == AcceptResult(1, 0, 0)

    pending = await outbox.pending(10)

    assert pending == [
        PendingMessage(1, "m-1", msg("m-1").message),
        PendingMessage(2, "m-2", msg("m-2", "u_2").message),
        PendingMessage(3, "m-3", msg("m-3").message),
    ]
    assert await outbox.pending(2) == pending[:2]
    assert await outbox.stats() == stats(received=3, pending=3)


async def test_settling_moves_pending_messages_and_their_counters_once(outbox: Outbox) -> None:
    await outbox.accept([msg("m-1"), msg("m-2"), msg("m-3"), msg("m-4")], T0)
    error = {"code": "http_400", "message": "bad", "details": {"status": 400}}
    skip = {"code": "unsupported_message_type", "message": "no", "details": {"type": "page"}}
    later = T0 + timedelta(seconds=5)

    moved = await outbox.settle([Outcome(1, "delivered"), Outcome(2, "skipped", skip),
                                 Outcome(3, "deadletter", error, attempts=6)], later)
    again = await outbox.settle([Outcome(1, "deadletter", error), Outcome(99, "delivered")], later)

    assert (moved, again) == (3, 0)  # only pending messages move; unknown ones are ignored
    assert await outbox.stats() == stats(received=4, delivered=1, skipped=1, deadLettered=1,
                                         pending=1)
    assert [p.message_id for p in await outbox.pending(10)] == ["m-4"]
    assert await outbox.deadletters(10, 0) == [{
        "messageId": "m-3", "state": "deadletter", "receivedAt": "2026-11-28T10:00:00.000Z",
        "updatedAt": "2026-11-28T10:00:05.000Z", "attempts": 6, "error": error,
        "message": msg("m-3").message,
    }]
    assert await outbox.message("m-2") == {
        "messageId": "m-2", "state": "skipped", "receivedAt": "2026-11-28T10:00:00.000Z",
        "updatedAt": "2026-11-28T10:00:05.000Z", "attempts": 0, "error": skip,
        "message": msg("m-2").message,
    }


async def test_redrive_moves_dead_letters_back_to_pending(outbox: Outbox) -> None:
    await outbox.accept([msg(f"m-{n}") for n in range(1, 5)], T0)
    error = {"code": "timeout", "message": "slow", "details": {}}
    await outbox.settle([Outcome(n, "deadletter", error, 3) for n in (1, 2, 3)], T0)

    assert await outbox.redrive(["m-2", "nope", "m-2", "m-4"], T0) == (1, ["nope", "m-4"])
    assert await outbox.stats() == stats(received=4, deadLettered=2, pending=2)
    assert [p.message_id for p in await outbox.pending(10)] == ["m-2", "m-4"]  # outbox order
    assert await outbox.redrive(None, T0) == (2, [])
    assert await outbox.stats() == stats(received=4, pending=4)
    assert await outbox.deadletters(10, 0) == []


async def test_dedup_is_by_message_id_within_the_window_from_the_first_sighting(
    path: str,
) -> None:
    box = await Outbox.open(path, 60.0, dropped_kept=10)
    try:
        assert await box.accept([msg("m-1"), msg("m-1"), drop("d-1")], T0) == AcceptResult(1, 1, 1)
        assert await box.accept([msg("m-1"), msg("d-1")], T0 + timedelta(seconds=59)) == (
            AcceptResult(0, 2, 0))  # a dropped id counts as seen as well
        assert await box.accept([msg("m-1")], T0 + timedelta(seconds=60)) == AcceptResult(1, 0, 0)
        assert await box.accept([msg("m-1")], T0 + timedelta(seconds=119)) == AcceptResult(0, 1, 0)
        # Dropped entries without a usable id are never deduplicated.
        assert await box.accept([drop(None), drop(None)], T0) == AcceptResult(0, 0, 2)
        assert await box.stats() == stats(received=9, deduplicated=4, dropped=3, pending=2)
    finally:
        await box.close()


async def test_a_zero_window_turns_dedup_off(path: str) -> None:
    box = await Outbox.open(path, 0.0, dropped_kept=10)
    try:
        assert await box.accept([msg("m-1"), msg("m-1")], T0) == AcceptResult(2, 0, 0)
    finally:
        await box.close()


async def test_expired_dedup_entries_are_pruned(path: str, outbox: Outbox) -> None:
    await outbox.accept([msg(f"m-{n}") for n in range(5)], T0)
    await outbox.accept([msg("x")], T0 + timedelta(days=1, seconds=1))
    await outbox.close()

    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT message_id FROM seen").fetchall()
    assert rows == [("x",)]


async def test_dropped_messages_are_listed_newest_first_and_only_the_last_few_kept(
    outbox: Outbox,
) -> None:
    await outbox.accept([drop("d-1"), msg("m-1"), drop("d-2")], T0)
    await outbox.accept([drop("d-3", "missing_event"), drop("d-4")], T0)

    kept, page = await outbox.dropped(10, 0)

    assert kept == 3  # dropped_kept
    assert [(d["messageId"], d["reason"]) for d in page] == [
        ("d-4", "no_user_anon_id"), ("d-3", "missing_event"), ("d-2", "no_user_anon_id")]
    assert page[0] == {
        "messageId": "d-4", "reason": "no_user_anon_id",
        "detail": "a message needs a userId or an anonymousId",
        "receivedAt": "2026-11-28T10:00:00.000Z", "message": drop("d-4").message,
    }
    assert (await outbox.dropped(1, 1))[1] == page[1:2]
    assert await outbox.stats() == stats(received=5, dropped=4, pending=1)
    assert await outbox.message("d-3") == {"state": "dropped", **page[1]}
    assert await outbox.message("d-1") is None  # pruned from the list
    assert await outbox.message("never") is None


async def test_a_request_is_stored_entirely_or_not_at_all(outbox: Outbox) -> None:
    await outbox.accept([msg("m-0")], T0)
    unstorable = msg("m-3", properties={"x": float("nan")})  # not JSON: the insert fails

    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        await outbox.accept([msg("m-1"), drop("d-1"), msg("m-2"), unstorable], T0)

    assert await outbox.stats() == stats(received=1, pending=1)
    assert [p.message_id for p in await outbox.pending(10)] == ["m-0"]
    assert await outbox.dropped(10, 0) == (0, [])
    # Nothing of it was marked seen either: the same request, fixed, is stored in full.
    assert await outbox.accept([msg("m-1"), drop("d-1"), msg("m-2")], T0) == AcceptResult(2, 0, 1)


async def test_everything_survives_a_reopen(path: str) -> None:
    box = await Outbox.open(path, DAY, dropped_kept=10)
    await box.accept([msg("m-1"), msg("m-2"), drop("d-1")], T0)
    await box.settle([Outcome(1, "delivered")], T0)
    await box.close()

    again = await Outbox.open(path, DAY, dropped_kept=10)
    try:
        assert await again.stats() == stats(received=3, dropped=1, delivered=1, pending=1)
        assert [p.message_id for p in await again.pending(10)] == ["m-2"]
        assert (await again.dropped(10, 0))[0] == 1
        assert await again.accept([msg("m-1"), msg("m-3")], T0) == AcceptResult(1, 1, 0)
        assert [p.seq for p in await again.pending(10)] == [2, 3]
    finally:
        await again.close()


async def test_the_file_is_journaled_with_wal_and_full_sync(path: str, outbox: Outbox) -> None:
    await outbox.accept([msg("m-1")], T0)
    await outbox.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("PRAGMA user_version").fetchone() == (3,)


async def test_one_file_has_one_gateway(path: str, outbox: Outbox) -> None:
    with pytest.raises(OutboxError) as caught:
        await Outbox.open(path, DAY, dropped_kept=10)
    assert caught.value.message == (
        f"the outbox {path} is in use by another gateway (one file, one gateway)")
    assert caught.value.status == 503
    assert await outbox.stats() == ZERO  # the first owner is unaffected


async def test_a_newer_schema_is_refused(path: str) -> None:
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 7")
    with pytest.raises(OutboxError) as caught:
        await Outbox.open(path, DAY, dropped_kept=10)
    assert caught.value.message == (
        f"the outbox {path} has schema version 7; this gateway reads version 3")


async def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(OutboxError) as caught:
        await Outbox.open(str(junk), DAY, dropped_kept=10)
    assert caught.value.message == (
        f"the outbox {junk} cannot be opened: file is not a database")


async def test_an_in_memory_outbox_works_without_a_file() -> None:
    box = await Outbox.open(":memory:", DAY, dropped_kept=10)
    try:
        assert await box.accept([msg("m-1")], T0) == AcceptResult(1, 0, 0)
        assert await box.stats() == stats(received=1, pending=1)
    finally:
        await box.close()


async def test_writes_set_the_changed_event(outbox: Outbox) -> None:
    before = outbox.changed()
    assert not before.is_set()
    await outbox.accept([msg("m-1")], T0)
    assert before.is_set()
    assert not outbox.changed().is_set()  # a fresh one for the next write


@pytest.mark.parametrize("name", sorted(HOT_STATEMENTS))
def test_hot_statements_search_an_index_and_never_scan(name: str) -> None:
    db = sqlite3.connect(":memory:")
    db.executescript(SCHEMA)
    statement = HOT_STATEMENTS[name]
    plan = [row[3] for row in db.execute(
        "EXPLAIN QUERY PLAN " + statement, (1,) * statement.count("?"))]
    searches = [step for step in plan if step.startswith("SEARCH")]
    assert searches, plan
    assert not [step for step in plan if step.startswith("SCAN")], plan


async def test_a_file_written_before_the_token_column_gains_it_and_keeps_its_messages(
    path: str,
) -> None:
    """An outbox of the first schema (no token, no violations): opened, migrated in place to
    the current one (version 3)."""
    old = sqlite3.connect(path)
    old.executescript("""
        CREATE TABLE messages (seq INTEGER PRIMARY KEY AUTOINCREMENT, message_id TEXT NOT NULL,
            state TEXT NOT NULL, received_at TEXT NOT NULL, updated_at TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0, error TEXT, body TEXT NOT NULL);
        INSERT INTO messages (message_id, state, received_at, updated_at, body)
            VALUES ('m-old', 'pending', 'x', 'x', '{"type": "track"}');
        PRAGMA user_version = 1;
    """)
    old.close()
    box = await Outbox.open(path, DAY, dropped_kept=3)
    try:
        await box.accept([msg("m-new")], T0, token="wk-1", key_hash="h")
        assert await box.pending(10) == [
            PendingMessage(1, "m-old", {"type": "track"}),
            PendingMessage(2, "m-new", msg("m-new").message, "wk-1"),
        ]
        found = await box.message("m-new")
        assert found is not None and "wk-1" not in repr(found)
    finally:
        await box.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (3,)


async def test_a_version_2_file_gains_the_token_column_and_the_violations_table(
    path: str,
) -> None:
    """A file of schema version 2 (dedup scoped, no token, no violations) keeps its pending
    messages (delivered with the gateway's own token) and its dedup ids, and takes violations."""
    old = sqlite3.connect(path)
    old.executescript(SCHEMA.replace("    notes TEXT,\n    token TEXT\n", "    notes TEXT\n"))
    old.executescript("""
        INSERT INTO messages (message_id, state, received_at, updated_at, body)
            VALUES ('m-old', 'pending', 'x', 'x', '{"type": "track"}');
        INSERT INTO seen (scope, message_id, seen_at) VALUES ('', 'm-old', 1e12);
        PRAGMA user_version = 2;
    """)
    old.close()
    box = await Outbox.open(path, DAY, dropped_kept=3)
    try:
        assert await box.accept([msg("m-old")], T0) == AcceptResult(0, 1, 0)  # still seen
        violation = {"messageId": "m-new", "type": "track", "event": "E", "kind": "required",
                     "path": "properties.x", "message": "properties.x is required"}
        await box.accept([msg("m-new")], T0, violations={0: [violation]}, key_hash="h")
        assert await box.pending(10) == [
            PendingMessage(1, "m-old", {"type": "track"}),
            PendingMessage(2, "m-new", msg("m-new").message),
        ]
        assert await box.violations({"writeKeyHash": ["h"]}, 10, 0) == (1, [violation])
        assert await box.plan_stats() == {"violations": 1, "violatingMessages": 1, "blocked": 0}
    finally:
        await box.close()


async def test_violations_are_kept_with_their_message_and_filtered(outbox: Outbox) -> None:
    def found(message_id: str, kind: str) -> dict[str, Any]:
        return {"messageId": message_id, "type": "track", "event": "E", "kind": kind,
                "path": "properties.x", "message": "..."}

    await outbox.accept([msg("m-1"), msg("m-2")], T0,
                        violations={0: [found("m-1", "required"), found("m-1", "invalid_type")],
                                    1: [found("m-2", "required")]}, key_hash="a")
    # A duplicate adds no violations; another write key's are apart.
    await outbox.accept([msg("m-1")], T0, violations={0: [found("m-1", "required")]},
                        key_hash="a")
    assert (await outbox.violations({}, 10, 0))[0] == 3
    assert await outbox.violations({"kind": ["required"]}, 10, 0) == (
        2, [found("m-1", "required"), found("m-2", "required")])
    assert await outbox.violations({"messageId": ["m-2", "m-9"]}, 10, 0) == (
        1, [found("m-2", "required")])
    assert await outbox.violations({"writeKeyHash": ["b"]}, 10, 0) == (0, [])
    assert await outbox.violations({}, 1, 1) == (3, [found("m-1", "invalid_type")])


@pytest.mark.parametrize("name", sorted(VIOLATION_FILTERS))
def test_each_violation_filter_searches_an_index(name: str) -> None:
    db = sqlite3.connect(":memory:")
    db.executescript(VIOLATIONS_SCHEMA)
    column = VIOLATION_FILTERS[name]
    for statement in (f"SELECT COUNT(*) FROM violations WHERE {column} IN (?, ?)",
                      f"SELECT body FROM violations WHERE {column} IN (?, ?) ORDER BY seq "
                      "LIMIT ? OFFSET ?"):
        plan = [row[3] for row in db.execute(
            "EXPLAIN QUERY PLAN " + statement, (1,) * statement.count("?"))]
        assert [step for step in plan if step.startswith("SEARCH")], plan
        assert not [step for step in plan if step.startswith("SCAN")], plan
